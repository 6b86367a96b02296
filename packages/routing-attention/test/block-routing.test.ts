import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import { OptionError, ShapeError, batchMatMul, scaledDotProductAttention, topKIndices } from "@attnkit/core";
import { backendTolerance, checkGradients, describeBackends, expectClose, expectEqualInts, expectNoLeaks, fc } from "@attnkit/testing";
import { blockRoutingAttention, routeBlocks } from "../src/index";
import { groupedBlockAttention } from "../src/ops/block-routing-grouped";
import { maskedBlockAttention } from "../src/ops/block-routing-masked";
import { blockMeans, padIndices } from "../src/ops/common";
import { referenceMoba } from "../src/reference";
import { flatInts, randomQkv } from "./helpers";

/** Block-local causal mask [s, s]: key in the query's block and not after it. */
function blockLocalMask(s: number, block: number): tf.Tensor {
  return tf.tidy(() => {
    const t = tf.range(0, s, 1, "int32");
    const bt = tf.floorDiv(t, tf.scalar(block, "int32"));
    return tf.logicalAnd(tf.lessEqual(t.reshape([1, -1]), t.reshape([-1, 1])), tf.equal(bt.reshape([1, -1]), bt.reshape([-1, 1])));
  });
}

describeBackends("blockRoutingAttention", (backend) => {
  const tol = backendTolerance(backend, { atol: 2e-5, rtol: 1e-4 });
  const runs = backend === "webgpu" ? 2 : 5;

  it("matches the float64 reference (random shapes, partial last block, queries at the end of the keys)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({ b: fc.integer({ min: 1, max: 2 }), h: fc.integer({ min: 1, max: 2 }), s: fc.integer({ min: 1, max: 23 }), bs: fc.integer({ min: 1, max: 6 }), topK: fc.integer({ min: 1, max: 5 }), d: fc.integer({ min: 1, max: 5 }), tail: fc.integer({ min: 0, max: 1 }), rows: fc.integer({ min: 1, max: 8 }), seed: fc.integer({ min: 1, max: 1000 }) }),
        async ({ b, h, s, bs, topK, d, tail, rows, seed }) => {
          const x = randomQkv([b, h, s, d], 3, seed);
          // Optionally only the last queries (a decode step or a chunked prefill).
          const sq = tail ? Math.max(1, Math.floor(s / 2)) : s;
          const q = x.q.slice([0, 0, s - sq, 0], [-1, -1, sq, -1]);
          const hq = { shape: [b, h, sq, d], data: x.hq.data.slice(0) };
          hq.data = Float64Array.from(await q.data());
          const res = blockRoutingAttention(q, x.k, x.v, { blockSize: bs, topK, blockRows: rows, returnIndices: true });
          const ref = referenceMoba(hq, x.hk, x.hv, { blockSize: bs, topK });
          await expectEqualInts(res.indices, flatInts(ref.indices), [b, h, sq, topK - 1]);
          await expectClose(res.output, ref.output, tol);
          tf.dispose([q, res.output, res.indices]);
          x.dispose();
        },
      ),
      { numRuns: runs, seed: 7 },
    );
  });

  it("topK ≥ number of blocks equals causal dense; topK = 1 is block-local", async () => {
    const x = randomQkv([1, 2, 19, 4], 3, 13);
    const dense = scaledDotProductAttention(x.q, x.k, x.v, { causal: true });
    const all = blockRoutingAttention(x.q, x.k, x.v, { blockSize: 4, topK: 5 });
    const more = blockRoutingAttention(x.q, x.k, x.v, { blockSize: 4, topK: 9 });
    await expectClose(all, dense, tol);
    await expectClose(more, dense, tol);
    const mask = blockLocalMask(19, 4);
    const local = scaledDotProductAttention(x.q, x.k, x.v, { mask });
    const one = blockRoutingAttention(x.q, x.k, x.v, { blockSize: 4, topK: 1, returnIndices: true });
    await expectClose(one.output, local, tol);
    expect(one.indices.shape).toEqual([1, 2, 19, 0]);
    tf.dispose([dense, all, more, mask, local, one.output, one.indices]);
    x.dispose();
  });

  it("the first block has no past blocks: indices are −1", async () => {
    const x = randomQkv([1, 1, 8, 2], 2, 17);
    const res = blockRoutingAttention(x.q, x.k, x.v, { blockSize: 4, topK: 3, returnIndices: true });
    const idx = (await res.indices.array()) as number[][][][];
    expect(idx[0]![0]![0]).toEqual([-1, -1]);
    expect(idx[0]![0]![5]).toEqual([0, -1]);
    tf.dispose([res.output, res.indices]);
    x.dispose();
  });

  it("routing in several gate chunks equals ranking every past block at once", async () => {
    // 300 blocks: the gate runs in chunks of 436 query rows; queries are the last 500 of 600 tokens.
    const x = randomQkv([1, 2, 600, 3], 1, 31);
    const q = x.q.slice([0, 0, 100, 0], [-1, -1, 500, -1]);
    for (const topK of [1, 4, 301]) {
      const got = routeBlocks(q, x.k, 2, topK);
      // The formulation before the chunking: core's topKIndices with the eligible blocks as `valid`.
      const want = tf.tidy(() => {
        const gate = batchMatMul(q, blockMeans(x.k, 2), false, true);
        const own = tf.floorDiv(tf.range(100, 600, 1, "int32"), tf.scalar(2, "int32")).reshape([-1, 1]);
        const valid = tf.less(tf.range(0, 300, 1, "int32").reshape([1, -1]), own);
        return padIndices(topKIndices(gate, Math.min(topK - 1, 300), { valid }), topK - 1);
      });
      expect(got.shape).toEqual([1, 2, 500, topK - 1]);
      await expectEqualInts(got, await want.data());
      tf.dispose([got, want]);
    }
    q.dispose();
    x.dispose();
  });

  it("gradients match finite differences", async () => {
    const x = randomQkv([1, 1, 7, 3], 2, 23);
    await checkGradients((q, k, v) => blockRoutingAttention(q!, k!, v!, { blockSize: 3, topK: 3 }), [x.q, x.k, x.v], { maxElements: 16 });
    await checkGradients((v) => blockRoutingAttention(x.q, x.k, v!, { blockSize: 2, topK: 2 }), [x.v], { maxElements: 16 });
    // Queries at the end of the keys, a partial last block, query chunks of 2 rows.
    const q = x.q.slice([0, 0, 3, 0], [-1, -1, 4, -1]);
    await checkGradients((a, k, v) => blockRoutingAttention(a!, k!, v!, { blockSize: 2, topK: 2, blockRows: 2 }), [q, x.k, x.v], { maxElements: 16 });
    q.dispose();
    x.dispose();
  });

  it("leaks no tensors and rejects bad input", async () => {
    const x = randomQkv([1, 2, 9, 2], 2, 29);
    await expectNoLeaks(() => blockRoutingAttention(x.q, x.k, x.v, { blockSize: 4, topK: 2 }));
    await expectNoLeaks(() => blockRoutingAttention(x.q, x.k, x.v, { blockSize: 2, topK: 3, returnIndices: true, blockRows: 3 }));
    expect(() => blockRoutingAttention(x.q, x.k, x.v, { blockSize: 0, topK: 2 })).toThrow(/blockRoutingAttention: blockSize must be an integer ≥ 1, got 0/);
    expect(() => blockRoutingAttention(x.q, x.k, x.v, { blockSize: 2, topK: 0 })).toThrow(OptionError);
    expect(() => blockRoutingAttention(x.q, x.k, x.v, { blockSize: 2.5, topK: 1 })).toThrow(OptionError);
    expect(() => blockRoutingAttention(x.q, x.k, x.v, { blockSize: 2, topK: 1, window: 3 } as never)).toThrow(/unknown option 'window'/);
    expect(() => blockRoutingAttention(x.q, x.k, x.v.slice([0, 0, 0, 0], [1, 2, 8, 2]), { blockSize: 2, topK: 1 })).toThrow(ShapeError);
    x.dispose();
  });
});

// The grouped formulation needs synchronous reads, so it runs where those exist; WebGPU takes the masked one.
describeBackends(
  "blockRoutingAttention formulations",
  (backend) => {
    const tol = backendTolerance(backend, { atol: 2e-5, rtol: 1e-4 });
    const setup = () => {
      const x = randomQkv([2, 2, 37, 5], 3, 41);
      // The last 28 queries: the first attend a block they share with earlier keys; last block partial.
      const q = x.q.slice([0, 0, 9, 0], [-1, -1, 28, -1]);
      const r = tf.randomNormal([2, 2, 28, 3], 0, 1, "float32", 43);
      const indices = routeBlocks(q, x.k, 4, 4);
      return { x, q, r, indices, dispose: () => (tf.dispose([q, r, indices]), x.dispose()) };
    };

    it("grouped and masked formulations agree in outputs and gradients", async () => {
      const { x, q, r, indices, dispose } = setup();
      for (const blockRows of [5, 28]) {
        const plan = { blockSize: 4, topK: 4, scale: 0.4, blockRows };
        const run = (form: typeof groupedBlockAttention) => tf.grads((a, b, c) => form(a!, b!, c!, indices, plan).mul(r).sum())([q, x.k, x.v]);
        const grouped = run(groupedBlockAttention);
        const masked = run(maskedBlockAttention);
        for (let i = 0; i < 3; i++) await expectClose(grouped[i]!, masked[i]!, tol);
        const [og, om] = [groupedBlockAttention(q, x.k, x.v, indices, plan), maskedBlockAttention(q, x.k, x.v, indices, plan)];
        await expectClose(og, om, tol);
        tf.dispose([...grouped, ...masked, og, om]);
      }
      dispose();
    });

    it("the grouped backward leaks no tensors", async () => {
      const { x, q, r, indices, dispose } = setup();
      const plan = { blockSize: 4, topK: 4, scale: 0.4, blockRows: 6 };
      await expectNoLeaks(() => tf.grads((a, b, c) => groupedBlockAttention(a!, b!, c!, indices, plan).mul(r).sum())([q, x.k, x.v]));
      dispose();
    });
  },
  ["cpu", "wasm"],
);
