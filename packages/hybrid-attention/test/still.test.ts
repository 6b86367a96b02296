import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import {
  backendTolerance,
  checkGradients,
  describeBackends,
  expectClose,
  expectEqualInts,
  expectNoLeaks,
  fc,
  loadFixture,
  randomPair,
  toHost,
  toTensor,
  type FixtureTensor,
} from "@attnkit/testing";
import { OptionError, ShapeError, scaledDotProductAttention } from "@attnkit/core";
import { npMap } from "../src/ops/np-map";
import { stillAttention, stillSaliency } from "../src/ops/still";
import { referenceStillAttention, referenceStillSaliency } from "../src/reference/still";

interface Case {
  name: string;
  options: { chunk_size: number; variant: "paper" | "code"; eps: number; scale: number | null };
  inputs: Record<string, FixtureTensor>;
  expected: Record<string, FixtureTensor>;
  tolerance: { atol: number; rtol: number };
}
const cases = loadFixture<{ cases: Case[] }>(new URL("./fixtures/still.json", import.meta.url)).cases;

/** Random STILL inputs with NP-Map features (identity f), and their host copies. */
function inputs(b: number, h: number, t: number, d: number, dv: number, seed: number) {
  const q = randomPair([b, h, t, d], seed, 1.5);
  const k = randomPair([b, h, t, d], seed + 1, 1.5);
  const v = randomPair([b, h, t, dv], seed + 2);
  const fqT = npMap(q.tensor);
  const fkT = npMap(k.tensor);
  return { q, k, v, fqT, fkT, dispose: () => tf.dispose([q.tensor, k.tensor, v.tensor, fqT, fkT]) };
}

describeBackends("stillSaliency / stillAttention", (backend) => {
  const tol = backendTolerance(backend, { atol: 2e-5, rtol: 2e-4 });
  const runs = backend === "webgpu" ? 3 : 12;

  for (const c of cases) {
    it(`matches fixture ${c.name}`, async () => {
      const q = toTensor(c.inputs.q!);
      const k = toTensor(c.inputs.k!);
      const s = stillSaliency(q, k, { chunkSize: c.options.chunk_size, variant: c.options.variant, eps: c.options.eps, scale: c.options.scale });
      await expectClose(s, toHost(c.expected.saliency!), backendTolerance(backend, c.tolerance));
      tf.dispose([q, k, s]);
    });
  }

  it("saliency matches the reference on random shapes (both variants, odd lengths)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({ t: fc.integer({ min: 1, max: 13 }), d: fc.integer({ min: 1, max: 5 }), C: fc.integer({ min: 1, max: 6 }), code: fc.boolean(), seed: fc.integer({ min: 1, max: 999 }) }),
        async ({ t, d, C, code, seed }) => {
          const q = randomPair([1, 2, t, d], seed);
          const k = randomPair([1, 2, t, d], seed + 1);
          const variant = code ? "code" : "paper";
          const s = stillSaliency(q.tensor, k.tensor, { chunkSize: C, variant });
          await expectClose(s, referenceStillSaliency(q.host, k.host, { chunkSize: C, variant }), { atol: 1e-4, rtol: 1e-3 });
          tf.dispose([q.tensor, k.tensor, s]);
        },
      ),
      { numRuns: runs },
    );
  });

  it("stillAttention matches the reference (selection, saliency, gate, phantom keys)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          t: fc.integer({ min: 1, max: 14 }),
          blockRows: fc.integer({ min: 1, max: 16 }),
          C: fc.integer({ min: 1, max: 5 }),
          kFrac: fc.double({ min: 0, max: 1, noNaN: true }),
          code: fc.boolean(),
          phantom: fc.boolean(),
          gated: fc.boolean(),
          seed: fc.integer({ min: 1, max: 999 }),
        }),
        async ({ t, blockRows, C, kFrac, code, phantom, gated, seed }) => {
          const x = inputs(1, 2, t, 3, 2, seed);
          const topK = Math.round(kFrac * C);
          const gate = randomPair([1, 2, t, 2], seed + 5);
          const saliency = code ? ("code" as const) : ("paper" as const);
          const got = stillAttention(x.q.tensor, x.k.tensor, x.v.tensor, {
            fq: x.fqT, fk: x.fkT, chunkSize: C, topK, saliency, phantomFirstChunk: phantom, returnMask: true, blockRows,
            ...(gated ? { gate: gate.tensor } : {}),
          });
          const ref = referenceStillAttention(x.q.host, x.k.host, x.v.host, {
            fq: toHost({ shape: x.fqT.shape, dtype: "float32", data: Array.from(await x.fqT.data()) }),
            fk: toHost({ shape: x.fkT.shape, dtype: "float32", data: Array.from(await x.fkT.data()) }),
            chunkSize: C, topK, saliency, phantomFirstChunk: phantom, ...(gated ? { gate: gate.host } : {}),
          });
          await expectEqualInts(got.salientMask, ref.salientMask.data, [1, 2, t]);
          await expectClose(got.output, ref.output, tol);
          tf.dispose([got.output, got.salientMask, got.saliency, gate.tensor]);
          x.dispose();
        },
      ),
      { numRuns: runs },
    );
  });

  it("topK = chunkSize, or a single chunk, gives causal softmax attention", async () => {
    const x = inputs(1, 2, 11, 4, 3, 21);
    const dense = scaledDotProductAttention(x.q.tensor, x.k.tensor, x.v.tensor, { causal: true });
    const all = stillAttention(x.q.tensor, x.k.tensor, x.v.tensor, { fq: x.fqT, fk: x.fkT, chunkSize: 3, topK: 3, eps: 0 });
    const single = stillAttention(x.q.tensor, x.k.tensor, x.v.tensor, { fq: x.fqT, fk: x.fkT, chunkSize: 16, topK: 0, eps: 0 });
    await expectClose(all, dense, tol);
    await expectClose(single, dense, tol);
    tf.dispose([dense, all, single]);
    x.dispose();
  });

  it("each chunk selects exactly topK tokens, token 0 always", async () => {
    const x = inputs(2, 1, 16, 4, 2, 31);
    const { output, salientMask, saliency } = stillAttention(x.q.tensor, x.k.tensor, x.v.tensor, { fq: x.fqT, fk: x.fkT, chunkSize: 4, topK: 2, returnMask: true });
    const counts = await salientMask.cast("float32").reshape([2, 4, 4]).sum(-1).data();
    expect(Array.from(counts)).toEqual(new Array(8).fill(2));
    const m = await salientMask.data();
    expect(m[0]).toBe(1);
    expect(m[16]).toBe(1);
    expect((await saliency.data())[0]).toBe(Infinity);
    tf.dispose([output, salientMask, saliency]);
    x.dispose();
  });

  it("a key scoring far above the rest (exp would overflow) after the queries changes nothing, forward or back", async () => {
    // Every query is near 1, the last key 100·1: its scores (≈ 170) overflow exp in float32.
    const t = 9;
    const noise = randomPair([1, 2, t, 3], 46, 0.1).tensor;
    const q = noise.add(1);
    const k = tf.concat([randomPair([1, 2, t - 1, 3], 47).tensor, tf.fill([1, 2, 1, 3], 100)], 2);
    const v = randomPair([1, 2, t, 2], 48).tensor;
    const run = (qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor) => stillAttention(qq, kk, vv, { fq: npMap(qq), fk: npMap(kk), chunkSize: 2, topK: 1 });
    const head = (x: tf.Tensor) => x.slice([0, 0, 0, 0], [-1, -1, t - 1, -1]);
    const full = head(run(q, k, v));
    expect((await full.data()).every(Number.isFinite)).toBe(true);
    await expectClose(full, run(head(q), head(k), head(v)), tol);
    const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => head(run(a, b, c)).sum())([q, k, v]);
    for (const g of grads) expect((await g.data()).every(Number.isFinite)).toBe(true);
  });

  it("has gradients in q, k, v, fq, fk and gate", async () => {
    const x = inputs(1, 1, 7, 3, 2, 41);
    const gate = randomPair([1, 1, 7, 2], 45);
    const f = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, fq: tf.Tensor, fk: tf.Tensor, g: tf.Tensor) =>
      stillAttention(q, k, v, { fq, fk, gate: g, chunkSize: 2, topK: 1, blockRows: 3 });
    await checkGradients((...xs) => f(xs[0]!, xs[1]!, xs[2]!, xs[3]!, xs[4]!, xs[5]!), [x.q.tensor, x.k.tensor, x.v.tensor, x.fqT, x.fkT, gate.tensor], { eps: 1e-3, maxElements: backend === "webgpu" ? 3 : 6 });
    gate.tensor.dispose();
    x.dispose();
  });

  it("leaks no tensors", async () => {
    const x = inputs(1, 2, 9, 3, 2, 51);
    await expectNoLeaks(() => stillAttention(x.q.tensor, x.k.tensor, x.v.tensor, { fq: x.fqT, fk: x.fkT, chunkSize: 4, topK: 1, returnMask: true }));
    await expectNoLeaks(() => stillSaliency(x.q.tensor, x.k.tensor, { chunkSize: 3, variant: "code" }));
    x.dispose();
  });

  it("rejects bad input clearly", () => {
    const x = inputs(1, 2, 6, 3, 2, 61);
    const { q, k, v } = { q: x.q.tensor, k: x.k.tensor, v: x.v.tensor };
    const base = { fq: x.fqT, fk: x.fkT, chunkSize: 3, topK: 1 };
    const wrongF = tf.zeros([1, 2, 5, 6]);
    const badGate = tf.zeros([1, 2, 6, 3]);
    expect(() => stillAttention(q, k, v, { ...base, topK: 4 })).toThrow(/stillAttention: topK must be an integer in \[0, 3\]/);
    expect(() => stillAttention(q, k, v, { ...base, chunkSize: 0 })).toThrow(OptionError);
    expect(() => stillAttention(q, k, v, { ...base, fk: wrongF })).toThrow(/stillAttention: fk must have shape \[1, 2, 6, f\]/);
    expect(() => stillAttention(q, k, v, { ...base, gate: badGate })).toThrow(/stillAttention: gate must broadcast/);
    expect(() => stillAttention(q, k, v, { ...base, saliency: "kl" as never })).toThrow(OptionError);
    expect(() => stillAttention(q, k, v, { ...base, topk: 1 } as never)).toThrow(/unknown option 'topk'/);
    expect(() => stillAttention(q, k, v, { ...base, blockRows: 0 })).toThrow(/stillAttention: blockRows must be an integer ≥ 1/);
    expect(() => stillAttention(q, k.slice([0, 0, 0, 0], [1, 2, 6, 2]), v, base)).toThrow(ShapeError);
    expect(() => stillSaliency(q, k, { chunkSize: 2.5 })).toThrow(/stillSaliency: chunkSize must be an integer/);
    expect(() => stillSaliency(q, k, { chunkSize: 2, variant: "both" as never })).toThrow(OptionError);
    tf.dispose([wrongF, badGate]);
    x.dispose();
  });
});
