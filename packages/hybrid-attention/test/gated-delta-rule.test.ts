import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { OptionError, ShapeError } from "@attnkit/core";
import { hostArray } from "@attnkit/core/reference";
import { backendTolerance, checkGradients, describeBackends, expectClose, expectNoLeaks, fc, loadFixture, randomPair, randomValues, toHost, useBackend, toTensor, type FixtureTensor } from "@attnkit/testing";
import { gatedDeltaGates, gatedDeltaRule } from "../src/index";
import { referenceGatedDeltaRule } from "../src/reference";

interface Case {
  name: string;
  options: { qk_l2norm: boolean; l2norm_eps: number; scale: number | null; suggested_chunk_sizes: number[] };
  inputs: Record<string, FixtureTensor>;
  expected: Record<string, FixtureTensor>;
  tolerance: { atol: number; rtol: number };
}
const cases = loadFixture<{ cases: Case[] }>(new URL("./fixtures/gated_delta_rule.json", import.meta.url)).cases;
const misc = loadFixture<{ cases: { name: string; inputs: Record<string, FixtureTensor>; expected: Record<string, FixtureTensor>; tolerance: { atol: number; rtol: number } }[] }>(
  new URL("./fixtures/misc.json", import.meta.url),
).cases;

// Gates in a realistic range: α in [0.6, 1], β in [0, 1].
function gates(shape: number[], seed: number): { alpha: tf.Tensor; beta: tf.Tensor; alphaHost: number[]; betaHost: number[] } {
  const n = shape.reduce((a, b) => a * b, 1);
  const alphaHost = Array.from(randomValues(n, seed), (x) => Math.fround(0.8 + 0.2 * x));
  const betaHost = Array.from(randomValues(n, seed + 1), (x) => Math.fround(0.5 + 0.5 * x));
  return { alpha: tf.tensor(alphaHost, shape), beta: tf.tensor(betaHost, shape), alphaHost, betaHost };
}

describeBackends("gatedDeltaRule", (backend) => {
  for (const c of cases) {
    it(`matches fixture ${c.name}, recurrent and WY chunked (chunk sizes ${c.options.suggested_chunk_sizes.join(", ")})`, async () => {
      const [q, k, v, alpha, beta] = ["q", "k", "v", "alpha", "beta"].map((n) => toTensor(c.inputs[n]!));
      const initialState = c.inputs.initial_state ? { s: toTensor(c.inputs.initial_state) } : null;
      const tol = backendTolerance(backend, c.tolerance);
      const runs = [{ mode: "recurrent" as const, chunkSize: 64 }, ...c.options.suggested_chunk_sizes.map((chunkSize) => ({ mode: "chunk" as const, chunkSize }))];
      for (const run of backend === "webgpu" ? runs.slice(0, 3) : runs) {
        const r = gatedDeltaRule(q!, k!, v!, { alpha: alpha!, beta: beta!, qkL2Norm: c.options.qk_l2norm, l2NormEps: c.options.l2norm_eps, scale: c.options.scale, initialState, returnState: true, ...run });
        await expectClose(r.output, toHost(c.expected.o!), tol);
        await expectClose(r.state.s, toHost(c.expected.final_state!), tol);
        tf.dispose([r.output, r.state.s]);
      }
      tf.dispose([q!, k!, v!, alpha!, beta!]);
    });
  }

  it("recurrent = chunk = float64 reference on random shapes and odd lengths, with an initial state", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({ b: fc.integer({ min: 1, max: 2 }), h: fc.integer({ min: 1, max: 2 }), t: fc.integer({ min: 1, max: backend === "webgpu" ? 9 : 19 }), d: fc.integer({ min: 1, max: 5 }), dv: fc.integer({ min: 1, max: 4 }) }),
        fc.boolean(),
        fc.constantFrom(1, 3, 4, 8, 64),
        fc.integer({ min: 1, max: 1000 }),
        async (s, l2, chunkSize, seed) => {
          const q = randomPair([s.b, s.h, s.t, s.d], seed);
          const k = randomPair([s.b, s.h, s.t, s.d], seed + 1, l2 ? 1 : 0.5);
          const v = randomPair([s.b, s.h, s.t, s.dv], seed + 2);
          const s0 = randomPair([s.b, s.h, s.d, s.dv], seed + 3);
          const g = gates([s.b, s.h, s.t], seed + 4);
          const ref = referenceGatedDeltaRule(q.host, k.host, v.host, {
            alpha: hostArray([s.b, s.h, s.t], g.alphaHost), beta: hostArray([s.b, s.h, s.t], g.betaHost), qkL2Norm: l2, scale: s.d ** -0.5, s0: s0.host,
          });
          for (const mode of ["recurrent", "chunk"] as const) {
            const r = gatedDeltaRule(q.tensor, k.tensor, v.tensor, { alpha: g.alpha, beta: g.beta, qkL2Norm: l2, mode, chunkSize, initialState: { s: s0.tensor }, returnState: true });
            await expectClose(r.output, ref.o, { atol: 2e-4, rtol: 2e-3 });
            await expectClose(r.state.s, ref.s, { atol: 2e-4, rtol: 2e-3 });
            tf.dispose([r.output, r.state.s]);
          }
          tf.dispose([q.tensor, k.tensor, v.tensor, s0.tensor, g.alpha, g.beta]);
        },
      ),
      { numRuns: backend === "webgpu" ? 3 : 8 },
    );
  });

  it("β = 0 keeps the state (α = 1) or decays it by Πα; orthonormal keys with β = 1 store and overwrite exactly", async () => {
    const q = randomPair([1, 2, 6, 4], 41).tensor;
    const k = randomPair([1, 2, 6, 4], 42).tensor;
    const v = randomPair([1, 2, 6, 3], 43).tensor;
    const s0 = randomPair([1, 2, 4, 3], 44).tensor;
    for (const mode of ["recurrent", "chunk"] as const) {
      const kept = gatedDeltaRule(q, k, v, { alpha: tf.ones([1, 2, 6]), beta: tf.zeros([1, 2, 6]), mode, chunkSize: 4, initialState: { s: s0 }, returnState: true });
      await expectClose(kept.state.s, s0, { atol: 1e-6, rtol: 1e-6 });
      const decayed = gatedDeltaRule(q, k, v, { alpha: tf.fill([1, 2, 6], 0.9), beta: tf.zeros([1, 2, 6]), mode, chunkSize: 4, initialState: { s: s0 }, returnState: true });
      await expectClose(decayed.state.s, s0.mul(0.9 ** 6), { atol: 1e-5, rtol: 1e-4 });
    }
    // Keys e0, e1, e0: the third write overwrites the first value; reading e0 returns it exactly.
    const keys = tf.tensor([1, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0], [1, 1, 3, 4]);
    const vals = tf.tensor([1, 2, 3, 4, 5, 6], [1, 1, 3, 2]);
    for (const mode of ["recurrent", "chunk"] as const) {
      const r = gatedDeltaRule(keys, keys, vals, { alpha: tf.ones([1, 1, 3]), beta: tf.ones([1, 1, 3]), scale: 1, mode, chunkSize: 2, returnState: true });
      await expectClose(r.state.s, tf.tensor([5, 6, 3, 4, 0, 0, 0, 0], [1, 1, 4, 2]), { atol: 1e-5 });
      await expectClose(r.output, vals, { atol: 1e-5 });
    }
  });

  it("pieces with carried state equal the full pass; logAlpha equals alpha; α = 0 resets in both modes; no leaks", async () => {
    const q = randomPair([1, 2, 11, 4], 51).tensor;
    const k = randomPair([1, 2, 11, 4], 52).tensor;
    const v = randomPair([1, 2, 11, 3], 53).tensor;
    const g = gates([1, 2, 11], 54);
    const full = gatedDeltaRule(q, k, v, { alpha: g.alpha, beta: g.beta, mode: "recurrent", returnState: true });
    const cut = (x: tf.Tensor, from: number, len: number) => (x.rank === 4 ? x.slice([0, 0, from, 0], [-1, -1, len, -1]) : x.slice([0, 0, from], [-1, -1, len]));
    for (const mode of ["recurrent", "chunk"] as const) {
      const a = gatedDeltaRule(cut(q, 0, 4), cut(k, 0, 4), cut(v, 0, 4), { alpha: cut(g.alpha, 0, 4), beta: cut(g.beta, 0, 4), mode, chunkSize: 3, returnState: true });
      const b = gatedDeltaRule(cut(q, 4, 7), cut(k, 4, 7), cut(v, 4, 7), { alpha: cut(g.alpha, 4, 7), beta: cut(g.beta, 4, 7), mode, chunkSize: 3, initialState: a.state, returnState: true });
      await expectClose(tf.concat([a.output, b.output], 2), full.output, { atol: 2e-5, rtol: 2e-4 });
      await expectClose(b.state.s, full.state.s, { atol: 2e-5, rtol: 2e-4 });
    }
    await expectClose(gatedDeltaRule(q, k, v, { logAlpha: tf.log(g.alpha), beta: g.beta, chunkSize: 4 }), full.output, { atol: 2e-5, rtol: 2e-4 });
    const reset = tf.tensor([1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1], [1, 2, 11]);
    const rec = gatedDeltaRule(q, k, v, { alpha: reset, beta: g.beta, mode: "recurrent" });
    await expectClose(gatedDeltaRule(q, k, v, { logAlpha: tf.log(tf.maximum(reset, 1e-30)), beta: g.beta, chunkSize: 4 }), rec, { atol: 2e-5, rtol: 2e-4 });
    await expectNoLeaks(() => gatedDeltaRule(q, k, v, { alpha: g.alpha, beta: g.beta, chunkSize: 4, returnState: true }));
    await expectNoLeaks(() => gatedDeltaRule(q, k, v, { alpha: g.alpha, beta: g.beta, mode: "recurrent" }));
  });

  it("has correct gradients in both modes (q, k, v, α, β)", async () => {
    const q = randomPair([1, 1, 5, 3], 61).tensor;
    const k = randomPair([1, 1, 5, 3], 62).tensor;
    const v = randomPair([1, 1, 5, 2], 63).tensor;
    const g = gates([1, 1, 5], 64);
    for (const mode of ["recurrent", "chunk"] as const) {
      await checkGradients((a, b, c, al, be) => gatedDeltaRule(a!, b!, c!, { alpha: al!, beta: be!, mode, chunkSize: 2 }), [q, k, v, g.alpha, g.beta], { maxElements: backend === "webgpu" ? 2 : 6 });
    }
  });

  it("gatedDeltaGates matches the gdn_gate fixture", async () => {
    const c = misc.find((x) => x.name === "gdn_gate")!;
    const r = gatedDeltaGates({ a: toTensor(c.inputs.a!), b: toTensor(c.inputs.a!), aLog: toTensor(c.inputs.A_log!), dtBias: toTensor(c.inputs.dt_bias!) });
    await expectClose(r.logAlpha, toHost(c.expected.g!), backendTolerance(backend, c.tolerance));
    await expectClose(r.beta, tf.sigmoid(toTensor(c.inputs.a!)), { atol: 1e-6 });
    const [a, b, aLog, dtBias] = [tf.zeros([2, 3]), tf.zeros([2, 3]), tf.zeros([3]), tf.zeros([3])];
    await expectNoLeaks(() => gatedDeltaGates({ a: a!, b: b!, aLog: aLog!, dtBias: dtBias! }));
  });
});

describe("gatedDeltaRule bad input", () => {
  it("throws clear errors", async () => {
    // The α check reads values on the host, which cpu and wasm allow (see gated-delta-rule.ts).
    await useBackend("cpu");
    const x = tf.zeros([1, 2, 5, 4]);
    const ones = tf.ones([1, 2, 5]);
    expect(() => gatedDeltaRule(x, x, x, { alpha: tf.zeros([1, 2, 5]), beta: ones })).toThrow(/alpha must be > 0 in chunk mode/);
    expect(() => gatedDeltaRule(x, x, x, { alpha: tf.fill([1, 2, 5], -0.5), beta: ones, mode: "chunk" })).toThrow(OptionError);
    expect(() => gatedDeltaRule(x, x, x, { alpha: tf.zeros([1, 2, 5]), beta: ones, mode: "recurrent" })).not.toThrow();
    expect(() => gatedDeltaRule(x, x, x, { alpha: tf.ones([1, 2, 4]), beta: ones })).toThrow(/alpha must have shape \[1, 2, 5\]/);
    expect(() => gatedDeltaRule(x, x, x, { alpha: ones, beta: tf.ones([2, 5]) })).toThrow(ShapeError);
    expect(() => gatedDeltaRule(x, x, x, { beta: ones } as never)).toThrow(/exactly one of alpha and logAlpha/);
    expect(() => gatedDeltaRule(x, x, x, { alpha: ones, logAlpha: ones, beta: ones })).toThrow(/exactly one/);
    expect(() => gatedDeltaRule(x, x, x, { alpha: ones, beta: ones, mode: "parallel" as never })).toThrow(/mode must be one of 'recurrent', 'chunk'/);
    expect(() => gatedDeltaRule(x, x, x, { alpha: ones, beta: ones, l2NormEps: 0 })).toThrow(/l2NormEps/);
    expect(() => gatedDeltaRule(x, x, x, { alpha: ones, beta: ones, initialState: { s: tf.zeros([1, 2, 4]) } })).toThrow(/initialState.s must have rank 4/);
    expect(() => gatedDeltaGates({ a: tf.zeros([2, 3]), b: tf.zeros([2, 3]), aLog: tf.zeros([2]), dtBias: tf.zeros([3]) })).toThrow(/aLog must have shape \[3\]/);
  });
});
