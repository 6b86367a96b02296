// The generation cache and the layer: chunked prompt processing and token-by-token generation with
// topK ≥ blocks equal training-time attention (with and without RoPE); a block-aligned chunk equals the
// functional retrieval op; the layer's round trip through runLayerTest.
import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import { backendTolerance, describeBackends, expectClose, expectEqualInts, expectNoLeaks, randomPair, runLayerTest } from "@attnkit/testing";
import { LandmarkAttention, LandmarkMemory, landmarkAttention, landmarkRetrievalAttention } from "../src/index";
import { makeQkv } from "./helpers";

const TOL = { atol: 2e-5, rtol: 2e-4 };
const part = (x: tf.Tensor, from: number, size: number) => x.slice([0, 0, from, 0], [-1, -1, size, -1]);

describeBackends("LandmarkMemory", (backend) => {
  const tol = backendTolerance(backend, TOL);

  for (const ropeBase of [null, 10000]) {
    it(`chunked prompt and token-by-token steps with topK ≥ blocks equal training-time attention${ropeBase ? " (RoPE)" : ""}`, async () => {
      const blockSize = 3;
      const T = 26; // 6 complete blocks and a tail of 2
      const x = makeQkv(1, 2, T, 4, 3, 51);
      const want = landmarkAttention(x.q, x.k, x.v, { blockSize, ropeBase });
      const memory = new LandmarkMemory({ blockSize, topK: 8, ropeBase });
      // A prompt of 19 positions in chunks of 5 (not aligned to blocks), then one position at a time.
      const prompt = memory.attendPrompt(part(x.q, 0, 19), part(x.k, 0, 19), part(x.v, 0, 19), { chunkSize: 5 });
      const steps: tf.Tensor[] = [prompt];
      for (let t = 19; t < T; t++) steps.push(memory.attend(part(x.q, t, 1), part(x.k, t, 1), part(x.v, t, 1)));
      expect(memory.length).toBe(T);
      expect(memory.blocks).toBe(6);
      const got = tf.concat(steps, 2);
      await expectClose(got, want, tol);
      tf.dispose([...steps, got, want]);
      memory.dispose();
      x.dispose();
    });
  }

  it("a block-aligned chunk equals the retrieval op with the same memory", async () => {
    const blockSize = 2;
    const n = blockSize + 1;
    const M = 5 * n;
    const T = M + 7;
    const x = makeQkv(1, 2, T, 4, 2, 61, 1.5);
    const memory = new LandmarkMemory({ blockSize, topK: 2, selection: "max-over-heads" });
    memory.attend(part(x.q, 0, M), part(x.k, 0, M), part(x.v, 0, M)).dispose();
    expect(memory.nextIsLandmark).toBe(false);
    const got = memory.attend(part(x.q, M, T - M), part(x.k, M, T - M), part(x.v, M, T - M), { returnSelection: true });
    const want = landmarkRetrievalAttention(x.q, x.k, x.v, { blockSize, topK: 2, memoryLength: M, selection: "max-over-heads", returnSelection: true });
    await expectEqualInts(got.selection, Array.from((await want.selection.data()) as Int32Array));
    await expectClose(got.output, want.output, tol);
    tf.dispose([got.output, got.selection, got.scores, want.output, want.selection, want.scores]);
    memory.dispose();
    x.dispose();
  });

  it("leaks nothing beyond its own cache, and dispose frees the cache", async () => {
    const x = makeQkv(1, 1, 12, 4, 2, 71);
    const [q1, k1, v1, q2, k2, v2] = [x.q, x.k, x.v, x.q, x.k, x.v].map((t, i) => (i < 3 ? part(t, 0, 7) : part(t, 7, 5)));
    const memory = new LandmarkMemory({ blockSize: 2, topK: 1, ropeBase: 100 });
    memory.attend(q1!, k1!, v1!).dispose();
    // The cache now holds its keys and values; a further step replaces them and adds only its output.
    await expectNoLeaks(() => memory.attend(q2!, k2!, v2!));
    const cached = tf.memory().numTensors;
    memory.dispose();
    expect(cached - tf.memory().numTensors).toBe(2);
    expect(memory.length).toBe(0);
    tf.dispose([q1!, k1!, v1!, q2!, k2!, v2!]);
    x.dispose();
  });
});

describeBackends("LandmarkAttention layer", (backend) => {
  const tol = backendTolerance(backend, TOL);

  it("passes the layer checks (config, weights, symbolic/eager, fit, save/load)", async () => {
    await runLayerTest({ make: () => new LandmarkAttention({ numHeads: 2, keyDim: 4, blockSize: 3, topK: 2, ropeBase: 10000 }), inputShape: [11, 6], expectedWeights: 4, tolerance: tol });
  });

  it("callWithMemory in chunks with topK ≥ blocks equals the training-time call", async () => {
    const layer = new LandmarkAttention({ numHeads: 2, keyDim: 4, valueDim: 3, blockSize: 3, topK: 16, ropeBase: 500 });
    const x = randomPair([1, 21, 6], 81).tensor;
    const full = layer.apply(x) as tf.Tensor;
    const memory = layer.createMemory();
    const a = layer.callWithMemory(x.slice([0, 0, 0], [-1, 13, -1]), memory, { chunkSize: 6 });
    const b = layer.callWithMemory(x.slice([0, 13, 0], [-1, -1, -1]), memory);
    const got = tf.concat([a, b], 1);
    await expectClose(got, full, tol);
    tf.dispose([x, full, a, b, got]);
    memory.dispose();
  });
});
