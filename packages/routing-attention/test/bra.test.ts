import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import { OptionError, ShapeError, scaledDotProductAttention } from "@attnkit/core";
import { backendTolerance, checkGradients, describeBackends, expectClose, expectEqualInts, expectNoLeaks, fc } from "@attnkit/testing";
import { biLevelRoutingAttention, biLevelRoutingAttention2d, toRegionMajor } from "../src/index";
import { referenceBra } from "../src/reference";
import { flatInts, randomQkv } from "./helpers";

describeBackends("biLevelRoutingAttention", (backend) => {
  const tol = backendTolerance(backend, { atol: 2e-5, rtol: 1e-4 });
  const runs = backend === "webgpu" ? 2 : 5;

  it("matches the float64 reference in every routing mode (random shapes)", async () => {
    const modes = [
      { routing: "per-head", sharedScore: "concat" },
      { routing: "shared", sharedScore: "concat" },
      { routing: "shared", sharedScore: "mean-vectors" },
    ] as const;
    await fc.assert(
      fc.asyncProperty(
        fc.record({ b: fc.integer({ min: 1, max: 2 }), h: fc.integer({ min: 1, max: 3 }), n: fc.integer({ min: 1, max: 5 }), r: fc.integer({ min: 1, max: 4 }), d: fc.integer({ min: 1, max: 5 }), dv: fc.integer({ min: 1, max: 4 }), mode: fc.integer({ min: 0, max: 2 }), seed: fc.integer({ min: 1, max: 1000 }) }),
        async ({ b, h, n, r, d, dv, mode, seed }) => {
          const topK = 1 + (seed % n);
          const x = randomQkv([b, h, n * r, d], dv, seed);
          const res = biLevelRoutingAttention(x.q, x.k, x.v, { regionSize: r, topK, ...modes[mode]!, returnIndices: true });
          const ref = referenceBra(x.hq, x.hk, x.hv, { regionSize: r, topK, ...modes[mode]! });
          await expectEqualInts(res.indices, flatInts(ref.indices), [b, h, n, topK]);
          await expectClose(res.output, ref.output, tol);
          tf.dispose([res.output, res.indices]);
          x.dispose();
        },
      ),
      { numRuns: runs, seed: 42 },
    );
  });

  it("shared routing gives the same indices in every head", async () => {
    const x = randomQkv([1, 3, 12, 4], 4, 5);
    const res = biLevelRoutingAttention(x.q, x.k, x.v, { regionSize: 3, topK: 2, routing: "shared", returnIndices: true });
    const idx = (await res.indices.array()) as number[][][][];
    expect(idx[0]![1]).toEqual(idx[0]![0]);
    expect(idx[0]![2]).toEqual(idx[0]![0]);
    tf.dispose([res.output, res.indices]);
    x.dispose();
  });

  it("topK = number of regions equals dense attention; so does one region", async () => {
    const x = randomQkv([2, 2, 12, 5], 3, 9);
    const dense = scaledDotProductAttention(x.q, x.k, x.v);
    const all = biLevelRoutingAttention(x.q, x.k, x.v, { regionSize: 3, topK: 4 });
    const one = biLevelRoutingAttention(x.q, x.k, x.v, { regionSize: 12, topK: 1, routing: "shared" });
    await expectClose(all, dense, tol);
    await expectClose(one, dense, tol);
    tf.dispose([dense, all, one]);
    x.dispose();
  });

  it("exact ties pick the lower region", async () => {
    // Regions 1 and 2 hold identical keys: both score the same; topK = 1 must choose region 1.
    const q = tf.ones([1, 1, 6, 2]);
    const k = tf.tensor([0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 6, 2]);
    const v = tf.randomNormal([1, 1, 6, 2]);
    const res = biLevelRoutingAttention(q, k, v, { regionSize: 2, topK: 1, returnIndices: true });
    await expectEqualInts(res.indices, [1, 1, 1], [1, 1, 3, 1]);
    tf.dispose([q, k, v, res.output, res.indices]);
  });

  it("gradients match finite differences", async () => {
    const x = randomQkv([1, 2, 6, 3], 2, 21);
    // All regions routed: the finite-difference steps cannot flip a routing decision.
    await checkGradients((q, k, v) => biLevelRoutingAttention(q!, k!, v!, { regionSize: 2, topK: 3, routing: "shared" }), [x.q, x.k, x.v]);
    // Sparse routing: v does not move the routing.
    await checkGradients((v) => biLevelRoutingAttention(x.q, x.k, v!, { regionSize: 2, topK: 1 }), [x.v]);
    x.dispose();
  });

  it("leaks no tensors", async () => {
    const x = randomQkv([1, 2, 8, 3], 3, 3);
    await expectNoLeaks(() => biLevelRoutingAttention(x.q, x.k, x.v, { regionSize: 2, topK: 2 }));
    await expectNoLeaks(() => biLevelRoutingAttention(x.q, x.k, x.v, { regionSize: 4, topK: 1, routing: "shared", returnIndices: true }));
    x.dispose();
  });

  it("rejects bad input with a clear error", () => {
    const x = randomQkv([1, 1, 10, 2], 2, 1);
    expect(() => biLevelRoutingAttention(x.q, x.k, x.v, { regionSize: 3, topK: 1 })).toThrow(/biLevelRoutingAttention: the sequence length 10 must be divisible by regionSize/);
    expect(() => biLevelRoutingAttention(x.q, x.k, x.v, { regionSize: 5, topK: 3 })).toThrow(OptionError);
    expect(() => biLevelRoutingAttention(x.q, x.k, x.v, { regionSize: 5, topK: 0 })).toThrow(/topK must be an integer in \[1, 2\]/);
    expect(() => biLevelRoutingAttention(x.q, x.k, x.v, { regionSize: 5, topK: 1, routing: "heads" as never })).toThrow(/routing must be one of/);
    expect(() => biLevelRoutingAttention(x.q, x.k, x.v, { regionSize: 5, topK: 1, causal: true } as never)).toThrow(/unknown option 'causal'/);
    expect(() => biLevelRoutingAttention(x.q, x.k.slice([0, 0, 0, 0], [1, 1, 10, 1]), x.v, { regionSize: 5, topK: 1 })).toThrow(ShapeError);
    x.dispose();
  });
});

describeBackends("biLevelRoutingAttention2d", (backend) => {
  const tol = backendTolerance(backend, { atol: 2e-5, rtol: 1e-4 });

  it("equals 1-D BRA on region-major tokens, in every routing mode", async () => {
    const [H, W, g] = [4, 6, 2];
    const x = randomQkv([2, 2, H * W, 3], 2, 31);
    for (const routing of ["shared", "per-head"] as const) {
      const two = biLevelRoutingAttention2d(x.q, x.k, x.v, { height: H, width: W, grid: g, topK: 2, routing, returnIndices: true });
      const [qr, kr, vr] = [x.q, x.k, x.v].map((t) => toRegionMajor(t, H, W, g));
      const one = biLevelRoutingAttention(qr!, kr!, vr!, { regionSize: 6, topK: 2, routing, scale: (2 * 3) ** -0.5, returnIndices: true });
      const back = toRegionMajor(two.output, H, W, g);
      await expectClose(back, one.output, tol);
      await expectEqualInts(two.indices, Array.from(await one.indices.data()));
      tf.dispose([two.output, two.indices, one.output, one.indices, qr!, kr!, vr!, back]);
    }
    x.dispose();
  });

  it("topK = grid² and grid = 1 equal dense attention with the BiFormer scale", async () => {
    const x = randomQkv([1, 2, 16, 3], 3, 41);
    const dense = scaledDotProductAttention(x.q, x.k, x.v, { scale: (2 * 3) ** -0.5 });
    const all = biLevelRoutingAttention2d(x.q, x.k, x.v, { height: 4, width: 4, grid: 2, topK: 4 });
    const one = biLevelRoutingAttention2d(x.q, x.k, x.v, { height: 4, width: 4, grid: 1, topK: 1 });
    await expectClose(all, dense, tol);
    await expectClose(one, dense, tol);
    tf.dispose([dense, all, one]);
    x.dispose();
  });

  it("gradients flow through the gathered keys and values", async () => {
    const x = randomQkv([1, 1, 16, 2], 2, 51);
    await checkGradients((q, k, v) => biLevelRoutingAttention2d(q!, k!, v!, { height: 4, width: 4, grid: 2, topK: 4 }), [x.q, x.k, x.v], { maxElements: 16 });
    await checkGradients((v) => biLevelRoutingAttention2d(x.q, x.k, v!, { height: 4, width: 4, grid: 2, topK: 1 }), [x.v], { maxElements: 16 });
    x.dispose();
  });

  it("leaks no tensors and rejects bad input", async () => {
    const x = randomQkv([1, 2, 24, 2], 2, 61);
    await expectNoLeaks(() => biLevelRoutingAttention2d(x.q, x.k, x.v, { height: 4, width: 6, grid: 2, topK: 3, returnIndices: true }));
    expect(() => biLevelRoutingAttention2d(x.q, x.k, x.v, { height: 4, width: 6, grid: 4, topK: 1 })).toThrow(/grid must divide height 4 and width 6, got grid 4/);
    expect(() => biLevelRoutingAttention2d(x.q, x.k, x.v, { height: 5, width: 6, grid: 1, topK: 1 })).toThrow(/height·width = 30 tokens/);
    expect(() => biLevelRoutingAttention2d(x.q, x.k, x.v, { height: 4, width: 6, grid: 2, topK: 5 })).toThrow(/topK must be an integer in \[1, 4\]/);
    x.dispose();
  });
});
