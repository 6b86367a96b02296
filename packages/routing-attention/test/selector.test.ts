import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import { OptionError, ShapeError } from "@attnkit/core";
import { backendTolerance, checkGradients, describeBackends, expectClose, expectEqualInts, expectNoLeaks, fc, randomPair } from "@attnkit/testing";
import { flatTopK, hierarchicalTopK, indexIoU, sparseGatherAttention } from "../src/index";
import { referenceSelector, referenceSparseGather } from "../src/reference";
import { flatInts } from "./helpers";

describeBackends("hierarchicalTopK and flatTopK", (backend) => {
  const runs = backend === "webgpu" ? 2 : 6;

  it("match the per-query reference (causal and not, forced blocks, per-head and DSA-weighted)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          b: fc.integer({ min: 1, max: 2 }),
          h: fc.integer({ min: 1, max: 2 }),
          s: fc.integer({ min: 1, max: 21 }),
          bs: fc.integer({ min: 1, max: 5 }),
          topBlocks: fc.integer({ min: 1, max: 4 }),
          topTokens: fc.integer({ min: 1, max: 9 }),
          causal: fc.boolean(),
          force: fc.boolean(),
          weighted: fc.integer({ min: 0, max: 2 }), // 0: per-head, 1: DSA with 1 key head, 2: DSA with h key heads
          seed: fc.integer({ min: 1, max: 1000 }),
        }),
        async ({ b, h, s, bs, topBlocks, topTokens, causal, force, weighted, seed }) => {
          const q = randomPair([b, h, s, 3], seed);
          const k = randomPair([b, weighted === 1 ? 1 : h, s, 3], seed + 1);
          const w = weighted ? randomPair([b, s, h], seed + 2) : null;
          const opts = { topTokens, causal, ...(w ? { weights: w.tensor } : {}) };
          const res = hierarchicalTopK(q.tensor, k.tensor, { ...opts, blockSize: bs, topBlocks, forceSinkLocal: force, returnBlocks: true });
          const flat = flatTopK(q.tensor, k.tensor, opts);
          const ref = referenceSelector(q.host, k.host, { topTokens, causal, blockSize: bs, topBlocks, forceSinkLocal: force, ...(w ? { weights: w.host } : {}) });
          const heads = w ? 1 : h;
          await expectEqualInts(res.indices, flatInts(ref.indices), [b, heads, s, topTokens]);
          await expectEqualInts(res.blocks, flatInts(ref.blocks), [b, heads, s, topBlocks]);
          await expectEqualInts(flat, flatInts(ref.flat), [b, heads, s, topTokens]);
          tf.dispose([q.tensor, k.tensor, ...(w ? [w.tensor] : []), res.indices, res.blocks, flat]);
        },
      ),
      { numRuns: runs, seed: 3 },
    );
  });

  it("equals flat when topBlocks covers every block; forced blocks are present; every index is causal", async () => {
    const q = randomPair([1, 2, 20, 4], 5).tensor;
    const k = randomPair([1, 2, 20, 4], 6).tensor;
    const all = hierarchicalTopK(q, k, { blockSize: 4, topBlocks: 5, topTokens: 6 });
    const flat = flatTopK(q, k, { topTokens: 6 });
    await expectEqualInts(all, Array.from(await flat.data()));
    const few = hierarchicalTopK(q, k, { blockSize: 4, topBlocks: 2, topTokens: 6, returnBlocks: true });
    const blocks = (await few.blocks.array()) as number[][][][];
    const idx = (await few.indices.array()) as number[][][][];
    for (let t = 0; t < 20; t++) {
      const own = Math.floor(t / 4);
      expect(blocks[0]![1]![t]).toContain(0);
      expect(blocks[0]![1]![t]).toContain(own);
      for (const s of idx[0]![1]![t]!) expect(s <= t).toBe(true);
    }
    tf.dispose([q, k, all, flat, few.indices, few.blocks]);
  });

  it("leaks no tensors and rejects bad input", async () => {
    const q = tf.randomNormal([1, 2, 10, 3]);
    const k = tf.randomNormal([1, 2, 10, 3]);
    await expectNoLeaks(() => hierarchicalTopK(q, k, { blockSize: 3, topBlocks: 2, topTokens: 4, returnBlocks: true }));
    await expectNoLeaks(() => flatTopK(q, k, { topTokens: 4, causal: false }));
    expect(() => hierarchicalTopK(q, k, { blockSize: 0, topBlocks: 2, topTokens: 4 })).toThrow(/hierarchicalTopK: blockSize must be an integer ≥ 1/);
    expect(() => hierarchicalTopK(q, k, { blockSize: 2, topBlocks: 0, topTokens: 4 })).toThrow(OptionError);
    expect(() => flatTopK(q, k, { topTokens: 0 })).toThrow(/flatTopK: topTokens must be an integer ≥ 1/);
    expect(() => flatTopK(q, tf.zeros([1, 1, 10, 3]), { topTokens: 2 })).toThrow(ShapeError);
    expect(() => flatTopK(q, k, { topTokens: 2, weights: tf.zeros([1, 10, 3]) })).toThrow(/weights must have shape \[1, 10, 2\]/);
    tf.dispose([q, k]);
  });
});

describeBackends("indexIoU and sparseGatherAttention", (backend) => {
  const tol = backendTolerance(backend, { atol: 2e-5, rtol: 1e-4 });

  it("indexIoU: identical 1, disjoint 0, partial overlap, empty rows 1, −1 ignored", async () => {
    const a = tf.tensor([[0, 1, 2], [0, 1, -1], [3, 4, -1], [-1, -1, -1]], undefined, "int32");
    const b = tf.tensor([[2, 1, 0, -1], [5, 6, -1, -1], [4, 5, 6, -1], [-1, -1, -1, -1]], undefined, "int32");
    const iou = indexIoU(a, b);
    await expectClose(iou, [1, 0, 1 / 4, 1]);
    expect(() => indexIoU(a, tf.zeros([3, 2], "int32"))).toThrow(ShapeError);
    tf.dispose([a, b, iou]);
  });

  it("sparseGatherAttention matches the reference, shares 1-head indices, gives zeros for empty rows", async () => {
    const q = randomPair([1, 2, 5, 3], 1);
    const k = randomPair([1, 2, 7, 3], 2);
    const v = randomPair([1, 2, 7, 2], 3);
    const rows = [[[0, 3, -1], [6, 6, 2], [-1, -1, -1], [1, -1, 5], [4, 0, 1]]];
    const idx = tf.tensor([rows], [1, 1, 5, 3], "int32");
    const out = sparseGatherAttention(q.tensor, k.tensor, v.tensor, idx);
    await expectClose(out, referenceSparseGather(q.host, k.host, v.host, [rows]), tol);
    const empty = (await out.array()) as number[][][][];
    expect(empty[0]![1]![2]).toEqual([0, 0]);
    await checkGradients((a, b, c) => sparseGatherAttention(a!, b!, c!, idx), [q.tensor, k.tensor, v.tensor], { maxElements: 12 });
    await expectNoLeaks(() => sparseGatherAttention(q.tensor, k.tensor, v.tensor, idx, { scale: 0.5 }));
    expect(() => sparseGatherAttention(q.tensor, k.tensor, v.tensor, idx.cast("float32"))).toThrow(/indices must be int32/);
    expect(() => sparseGatherAttention(q.tensor, k.tensor, v.tensor, tf.zeros([1, 3, 5, 2], "int32"))).toThrow(ShapeError);
    tf.dispose([q.tensor, k.tensor, v.tensor, idx, out]);
  });
});
