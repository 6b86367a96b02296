// Reference parity on random shapes (odd lengths included), the properties every implementation must
// satisfy (research notes §1.2), gradients and leaks, on every backend.
import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import { scaledDotProductAttention } from "@attnkit/core";
import { backendTolerance, checkGradients, describeBackends, expectClose, expectNoLeaks, fc, randomPair } from "@attnkit/testing";
import { landmarkAttention, landmarkGroupedSoftmax } from "../src/index";
import { hostArray, referenceGroupedSoftmax, referenceLandmarkAttention, standardLayout } from "../src/reference";
import { makeQkv } from "./helpers";

const TOL = { atol: 2e-5, rtol: 2e-4 };

describeBackends("landmarkAttention", (backend) => {
  const tol = backendTolerance(backend, TOL);
  const runs = backend === "webgpu" ? 3 : 10;

  it("matches the reference on random shapes, with and without RoPE", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          b: fc.integer({ min: 1, max: 2 }),
          h: fc.integer({ min: 1, max: 2 }),
          seqK: fc.integer({ min: 1, max: 19 }),
          drop: fc.integer({ min: 0, max: 6 }),
          half: fc.integer({ min: 1, max: 4 }),
          dv: fc.integer({ min: 1, max: 5 }),
          blockSize: fc.integer({ min: 1, max: 5 }),
          rope: fc.boolean(),
          seed: fc.integer({ min: 1, max: 1000 }),
        }),
        async ({ b, h, seqK, drop, half, dv, blockSize, rope, seed }) => {
          const seqQ = Math.max(1, seqK - drop);
          const d = 2 * half;
          const x = makeQkv(b, h, seqK, d, dv, seed);
          const q = x.q.slice([0, 0, seqK - seqQ, 0], [-1, -1, -1, -1]);
          const hq = hostArray([b, h, seqQ, d], (await q.data()) as Float32Array);
          const opts = { blockSize, ropeBase: rope ? 10000 : null };
          const got = landmarkAttention(q, x.k, x.v, { ...opts, returnWeights: true });
          const want = referenceLandmarkAttention(hq, x.hk, x.hv, opts);
          await expectClose(got.output, want.output, tol);
          await expectClose(got.weights, want.weights, tol);
          tf.dispose([q, got.output, got.weights]);
          x.dispose();
        },
      ),
      { numRuns: runs, seed: 42 },
    );
  });

  it("every row sums to 1 and landmarks get zero weight", async () => {
    const x = makeQkv(1, 2, 23, 4, 3, 5, 2);
    const { output, weights } = landmarkAttention(x.q, x.k, x.v, { blockSize: 3, returnWeights: true });
    const sums = weights.sum(-1);
    await expectClose(sums, new Array(2 * 23).fill(1), { atol: 1e-5, rtol: 0 });
    const w = (await weights.data()) as Float32Array;
    const layout = standardLayout(23, 3);
    for (let i = 0; i < w.length; i++) if (layout[i % 23]) expect(w[i]).toBe(0);
    tf.dispose([output, weights, sums]);
    x.dispose();
  });

  it("equals causal attention over the regular tokens when each landmark logit is its block's log-sum-exp", async () => {
    // One head, dim 1 with q = 1: the score of key j is k_j, so setting k[landmark] = logsumexp(k[block])
    // makes the landmark stand in exactly for its block.
    const blockSize = 3;
    const blocks = 4;
    const regular = Array.from(randomPair([blocks * blockSize], 9).host.data);
    const keys: number[] = [];
    const isRegular: boolean[] = [];
    for (let b = 0; b < blocks; b++) {
      const part = regular.slice(b * blockSize, (b + 1) * blockSize);
      keys.push(...part, Math.log(part.reduce((a, s) => a + Math.exp(s), 0)));
      isRegular.push(...part.map(() => true), false);
    }
    const T = keys.length;
    const values = Array.from(randomPair([T, 2], 10).host.data);
    const q = tf.ones([1, 1, T, 1]);
    const k = tf.tensor(keys, [1, 1, T, 1]);
    const v = tf.tensor(values, [1, 1, T, 2]);
    const out = landmarkAttention(q, k, v, { blockSize, scale: 1 });
    // Causal softmax over the regular keys only (landmarks masked out).
    const keep = tf.tensor(isRegular.map(Number), [1, 1, 1, T]);
    const dense = scaledDotProductAttention(q, k, v, { causal: true, mask: keep, scale: 1 });
    const outRegular = tf.gather(out, isRegular.flatMap((r, i) => (r ? [i] : [])), 2);
    const denseRegular = tf.gather(dense, isRegular.flatMap((r, i) => (r ? [i] : [])), 2);
    await expectClose(outRegular, denseRegular, tol);
    tf.dispose([q, k, v, out, keep, dense, outRegular, denseRegular]);
  });

  it("gradients match finite differences (with RoPE)", async () => {
    const x = makeQkv(1, 2, 9, 4, 3, 21);
    await checkGradients((q, k, v) => landmarkAttention(q!, k!, v!, { blockSize: 2, ropeBase: 100 }), [x.q, x.k, x.v], { maxElements: backend === "webgpu" ? 8 : 24 });
    x.dispose();
  });

  it("leaks no tensors", async () => {
    const x = makeQkv(1, 2, 11, 4, 3, 3);
    await expectNoLeaks(() => landmarkAttention(x.q, x.k, x.v, { blockSize: 3, ropeBase: 10000 }));
    await expectNoLeaks(() => landmarkAttention(x.q, x.k, x.v, { blockSize: 3, returnWeights: true }));
    await expectNoLeaks(() => tf.grads((q: tf.Tensor) => landmarkAttention(q, x.k, x.v, { blockSize: 3 }).sum())([x.q]));
    x.dispose();
  });
});

describeBackends("landmarkGroupedSoftmax", (backend) => {
  const tol = backendTolerance(backend, TOL);

  it("matches the reference on random (also irregular) landmark layouts", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          tk: fc.integer({ min: 1, max: 17 }),
          drop: fc.integer({ min: 0, max: 5 }),
          rows: fc.integer({ min: 1, max: 2 }),
          flags: fc.array(fc.boolean(), { minLength: 17, maxLength: 17 }),
          seed: fc.integer({ min: 1, max: 1000 }),
        }),
        async ({ tk, drop, rows, flags, seed }) => {
          const tq = Math.max(1, tk - drop);
          const layout = flags.slice(0, tk);
          const s = randomPair([rows, tq, tk], seed, 3);
          const got = landmarkGroupedSoftmax(s.tensor, layout);
          await expectClose(got, referenceGroupedSoftmax(s.host, layout), tol);
          tf.dispose([got, s.tensor]);
        },
      ),
      { numRuns: backend === "webgpu" ? 3 : 12, seed: 7 },
    );
  });

  it("without landmarks equals causal softmax", async () => {
    const s = randomPair([2, 9, 9], 4, 2);
    const got = landmarkGroupedSoftmax(s.tensor, new Array(9).fill(false));
    const want = tf.tidy(() => {
      const mask = tf.linalg.bandPart(tf.ones([9, 9]), -1, 0);
      return tf.softmax(tf.where(tf.greater(mask, 0), s.tensor, tf.fill([2, 9, 9], -1e30)));
    });
    await expectClose(got, want, tol);
    tf.dispose([got, want, s.tensor]);
  });

  it("stays finite and exact with widely spread scores", async () => {
    // Block 0's scores sit 200 below block 1's: a shared shift would underflow, per-block maxima do not.
    const scores = tf.tensor([[-300, -301, 0, -100, -101, 0]], [1, 6]);
    const got = landmarkGroupedSoftmax(scores, [false, false, true, false, false, true]);
    const want = referenceGroupedSoftmax(hostArray([1, 6], [-300, -301, 0, -100, -101, 0]), [false, false, true, false, false, true]);
    await expectClose(got, want, tol);
    tf.dispose([scores, got]);
  });

  it("gradients match finite differences", async () => {
    const s = randomPair([1, 7, 7], 12);
    await checkGradients((x) => landmarkGroupedSoftmax(x!, standardLayout(7, 2)), [s.tensor], { maxElements: backend === "webgpu" ? 8 : 24 });
    s.tensor.dispose();
  });

  it("leaks no tensors", async () => {
    const s = randomPair([2, 5, 8], 13);
    const flags = tf.tensor1d([0, 0, 1, 0, 0, 1, 0, 0], "int32");
    await expectNoLeaks(() => landmarkGroupedSoftmax(s.tensor, flags));
    await expectNoLeaks(() => landmarkGroupedSoftmax(s.tensor, standardLayout(8, 2)));
    tf.dispose([s.tensor, flags]);
  });
});
