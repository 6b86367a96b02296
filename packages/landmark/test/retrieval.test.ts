// Retrieval attention: reference parity (every selection mode, with and without the stingy RoPE
// positions), equality with training-time attention when every block is retrieved, the chunk-only and
// partial-retrieval properties, gradients and leaks.
import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import { backendTolerance, checkGradients, describeBackends, expectClose, expectEqualInts, expectNoLeaks, fc } from "@attnkit/testing";
import { landmarkAttention, landmarkRetrievalAttention, type LandmarkSelection } from "../src/index";
import { referenceRetrieval } from "../src/reference";
import { flatNumbers, makeQkv } from "./helpers";

const TOL = { atol: 2e-5, rtol: 2e-4 };
const MODES: LandmarkSelection[] = ["per-token-and-head", "max-over-heads", "max-over-tokens"];

describeBackends("landmarkRetrievalAttention", (backend) => {
  const tol = backendTolerance(backend, TOL);

  it("matches the reference in every selection mode, with and without RoPE", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          h: fc.integer({ min: 1, max: 3 }),
          blockSize: fc.integer({ min: 1, max: 4 }),
          memBlocks: fc.integer({ min: 0, max: 5 }),
          chunk: fc.integer({ min: 1, max: 11 }),
          topK: fc.integer({ min: 0, max: 6 }),
          mode: fc.constantFrom(...MODES),
          rope: fc.boolean(),
          seed: fc.integer({ min: 1, max: 1000 }),
        }),
        async ({ h, blockSize, memBlocks, chunk, topK, mode, rope, seed }) => {
          const M = memBlocks * (blockSize + 1);
          const T = M + chunk;
          const x = makeQkv(1, h, T, 4, 3, seed, 1.5);
          const opts = { blockSize, topK, memoryLength: M, selection: mode, ropeBase: rope ? 50 : null };
          const got = landmarkRetrievalAttention(x.q, x.k, x.v, { ...opts, returnSelection: true });
          const want = referenceRetrieval(x.hq, x.hk, x.hv, opts);
          await expectEqualInts(got.selection, flatNumbers(want.selection), [1, h, chunk, Math.min(topK, memBlocks)]);
          await expectClose(got.scores, flatNumbers(want.scores), tol);
          await expectClose(got.output, want.output, tol);
          tf.dispose([got.output, got.selection, got.scores]);
          x.dispose();
        },
      ),
      { numRuns: backend === "webgpu" ? 4 : 16, seed: 3 },
    );
  });

  for (const rope of [false, true]) {
    it(`with topK ≥ memory blocks equals training-time attention${rope ? " (RoPE)" : ""}`, async () => {
      const blockSize = 3;
      const M = 4 * (blockSize + 1);
      const x = makeQkv(2, 2, M + 9, 4, 3, 17);
      const ropeBase = rope ? 10000 : null;
      const full = landmarkAttention(x.q, x.k, x.v, { blockSize, ropeBase });
      const want = full.slice([0, 0, M, 0], [-1, -1, -1, -1]);
      for (const [mode, topK] of [["per-token-and-head", 4], ["max-over-heads", 7], ["max-over-tokens", 4]] as const) {
        const got = landmarkRetrievalAttention(x.q, x.k, x.v, { blockSize, topK, memoryLength: M, selection: mode, ropeBase });
        await expectClose(got, want, tol);
        got.dispose();
      }
      tf.dispose([full, want]);
      x.dispose();
    });
  }

  it("with topK = 0 attends to the chunk only", async () => {
    const blockSize = 2;
    const M = 3 * (blockSize + 1);
    const x = makeQkv(1, 2, M + 7, 4, 2, 23);
    const chunk = (t: tf.Tensor) => t.slice([0, 0, M, 0], [-1, -1, -1, -1]);
    const [qc, kc, vc] = [chunk(x.q), chunk(x.k), chunk(x.v)];
    for (const ropeBase of [null, 100]) {
      const got = landmarkRetrievalAttention(x.q, x.k, x.v, { blockSize, topK: 0, memoryLength: M, ropeBase });
      // RoPE scores depend only on relative positions, so the chunk alone at positions 0.. gives the same.
      const want = landmarkAttention(qc, kc, vc, { blockSize, ropeBase });
      await expectClose(got, want, tol);
      tf.dispose([got, want]);
    }
    tf.dispose([qc, kc, vc]);
    x.dispose();
  });

  it("a partial retrieval equals grouped attention on [selected blocks ++ chunk]", async () => {
    const blockSize = 3;
    const n = blockSize + 1;
    const M = 6 * n;
    const x = makeQkv(1, 1, M + 10, 4, 3, 31, 1.5);
    // max-over-tokens: one block set for the whole chunk, so the reduced sequence is well defined.
    const r = landmarkRetrievalAttention(x.q, x.k, x.v, { blockSize, topK: 2, memoryLength: M, selection: "max-over-tokens", returnSelection: true });
    const blocks = Array.from(((await r.selection.data()) as Int32Array).slice(0, 2));
    expect(blocks[0]!).toBeLessThan(blocks[1]!);
    const keep = [...blocks.flatMap((b) => Array.from({ length: n }, (_, j) => b * n + j)), ...Array.from({ length: 10 }, (_, j) => M + j)];
    const [kr, vr] = [tf.gather(x.k, keep, 2), tf.gather(x.v, keep, 2)];
    const qc = x.q.slice([0, 0, M, 0], [-1, -1, -1, -1]);
    const want = landmarkAttention(qc, kr, vr, { blockSize });
    await expectClose(r.output, want, tol);
    tf.dispose([r.output, r.selection, r.scores, kr, vr, qc, want]);
    x.dispose();
  });

  it("gradients match finite differences through the selected blocks (with RoPE)", async () => {
    const x = makeQkv(1, 2, 3 * 3 + 4, 4, 2, 41);
    await checkGradients(
      (q, k, v) => landmarkRetrievalAttention(q!, k!, v!, { blockSize: 2, topK: 2, memoryLength: 9, ropeBase: 100 }),
      [x.q, x.k, x.v],
      { maxElements: backend === "webgpu" ? 8 : 24, eps: 1e-3, atol: 3e-3 },
    );
    x.dispose();
  });

  it("leaks no tensors", async () => {
    const x = makeQkv(1, 2, 14, 4, 3, 43);
    for (const selection of MODES) {
      await expectNoLeaks(() => landmarkRetrievalAttention(x.q, x.k, x.v, { blockSize: 2, topK: 2, memoryLength: 9, selection, returnSelection: true }));
    }
    await expectNoLeaks(() => landmarkRetrievalAttention(x.q, x.k, x.v, { blockSize: 2, topK: 1, memoryLength: 6, ropeBase: 10 }));
    x.dispose();
  });
});
