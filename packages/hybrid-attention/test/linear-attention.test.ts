import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { OptionError, ShapeError } from "@attnkit/core";
import { hostArray } from "@attnkit/core/reference";
import { backendTolerance, checkGradients, describeBackends, expectClose, expectNoLeaks, fc, loadFixture, randomPair, toHost, toTensor, type FixtureTensor } from "@attnkit/testing";
import { linearAttention } from "../src/index";
import { referenceLinearAttention } from "../src/reference";

interface Case {
  name: string;
  options: { feature_map: "elu1" | "relu"; normalize: boolean; causal: boolean; scale: number | null; scale_resolved: number; eps: number };
  inputs: Record<string, FixtureTensor>;
  expected: Record<string, FixtureTensor>;
  tolerance: { atol: number; rtol: number };
}
const cases = loadFixture<{ cases: Case[] }>(new URL("./fixtures/linear_attention.json", import.meta.url)).cases;
const modes = ["parallel", "recurrent", "chunk"] as const;

describeBackends("linearAttention", (backend) => {
  for (const c of cases) {
    for (const mode of modes) {
      it(`matches fixture ${c.name} (${mode})`, async () => {
        const [q, k, v] = ["q", "k", "v"].map((n) => toTensor(c.inputs[n]!));
        const o = c.options;
        const r = linearAttention(q!, k!, v!, { featureMap: o.feature_map, normalize: o.normalize, causal: o.causal, scale: o.scale, eps: o.eps, mode, chunkSize: 3, returnState: true });
        const tol = backendTolerance(backend, c.tolerance);
        await expectClose(r.output, toHost(c.expected.o!), tol);
        await expectClose(r.state.s, toHost(c.expected.final_state!), tol);
        await expectClose(r.state.z!, toHost(c.expected.final_z!), tol);
        tf.dispose([q!, k!, v!, r.output, r.state.s, r.state.z!]);
      });
    }
  }

  it("parallel = recurrent = chunk = float64 reference on random shapes, odd lengths and every option", async () => {
    const maps = ["elu1", "relu", "identity"] as const;
    await fc.assert(
      fc.asyncProperty(
        fc.record({ b: fc.integer({ min: 1, max: 2 }), h: fc.integer({ min: 1, max: 2 }), t: fc.integer({ min: 1, max: backend === "webgpu" ? 9 : 19 }), d: fc.integer({ min: 1, max: 5 }), dv: fc.integer({ min: 1, max: 5 }) }),
        fc.constantFrom(...maps),
        fc.boolean(),
        fc.boolean(),
        fc.constantFrom(1, 3, 4, 8, 64),
        fc.integer({ min: 1, max: 1000 }),
        async (s, map, normalize, causal, chunkSize, seed) => {
          // identity + normalize has a sign-indefinite denominator (research §2): compared without normalising.
          const norm = map === "identity" ? false : normalize;
          const q = randomPair([s.b, s.h, s.t, s.d], seed);
          const k = randomPair([s.b, s.h, s.t, s.d], seed + 1);
          const v = randomPair([s.b, s.h, s.t, s.dv], seed + 2);
          const ref = referenceLinearAttention(q.host, k.host, v.host, { featureMap: map, normalize: norm, causal, scale: s.d ** -0.5 });
          for (const mode of modes) {
            const r = linearAttention(q.tensor, k.tensor, v.tensor, { featureMap: map, normalize: norm, causal, mode, chunkSize, returnState: true });
            await expectClose(r.output, ref.o, { atol: 1e-4, rtol: 1e-3 });
            await expectClose(r.state.s, ref.s, { atol: 1e-4, rtol: 1e-3 });
            if (norm) await expectClose(r.state.z!, ref.z, { atol: 1e-4, rtol: 1e-3 });
            tf.dispose([r.output, r.state.s, ...(r.state.z ? [r.state.z] : [])]);
          }
          tf.dispose([q.tensor, k.tensor, v.tensor]);
        },
      ),
      { numRuns: backend === "webgpu" ? 3 : 8 },
    );
  });

  it("pieces with a carried state equal the full pass, in every mode", async () => {
    const q = randomPair([1, 2, 13, 4], 5);
    const k = randomPair([1, 2, 13, 4], 6);
    const v = randomPair([1, 2, 13, 3], 7);
    const full = linearAttention(q.tensor, k.tensor, v.tensor, { returnState: true });
    for (const mode of modes) {
      const cut = (x: tf.Tensor, from: number, len: number) => x.slice([0, 0, from, 0], [-1, -1, len, -1]);
      const a = linearAttention(cut(q.tensor, 0, 6), cut(k.tensor, 0, 6), cut(v.tensor, 0, 6), { mode, chunkSize: 4, returnState: true });
      const b = linearAttention(cut(q.tensor, 6, 7), cut(k.tensor, 6, 7), cut(v.tensor, 6, 7), { mode, chunkSize: 4, initialState: a.state, returnState: true });
      await expectClose(tf.concat([a.output, b.output], 2), full.output, { atol: 1e-5, rtol: 1e-4 });
      await expectClose(b.state.s, full.state.s, { atol: 1e-5, rtol: 1e-4 });
      await expectClose(b.state.z!, full.state.z!, { atol: 1e-5, rtol: 1e-4 });
    }
    // The reference with the same initial state.
    const s0 = randomPair([1, 2, 4, 3], 8);
    const z0 = hostArray([1, 2, 4], Array.from({ length: 8 }, (_, i) => 1 + i / 8));
    const ref = referenceLinearAttention(q.host, k.host, v.host, { featureMap: "elu1", normalize: true, scale: 0.5, s0: s0.host, z0 });
    for (const mode of modes) {
      const out = linearAttention(q.tensor, k.tensor, v.tensor, { mode, chunkSize: 5, initialState: { s: s0.tensor, z: tf.tensor(Float32Array.from(z0.data), [1, 2, 4], "float32") } });
      await expectClose(out, ref.o, { atol: 1e-4, rtol: 1e-3 });
    }
    await expectNoLeaks(() => linearAttention(q.tensor, k.tensor, v.tensor, { mode: "chunk", chunkSize: 4, returnState: true }));
    await expectNoLeaks(() => linearAttention(q.tensor, k.tensor, v.tensor, { mode: "recurrent" }));
  });

  it("has correct gradients in every mode", async () => {
    const q = randomPair([1, 1, 5, 3], 11).tensor;
    const k = randomPair([1, 1, 5, 3], 12).tensor;
    const v = randomPair([1, 1, 5, 2], 13).tensor;
    for (const mode of modes) {
      await checkGradients((a, b, c) => linearAttention(a!, b!, c!, { mode, chunkSize: 2 }), [q, k, v], { maxElements: backend === "webgpu" ? 3 : 8 });
    }
  });
});

describe("linearAttention bad input", () => {
  it("throws clear errors", () => {
    const x = tf.zeros([1, 2, 5, 4]);
    expect(() => linearAttention(x, x, x, { mode: "fast" as never })).toThrow(/linearAttention: mode must be one of/);
    expect(() => linearAttention(x, x, x, { chunkSize: 0 })).toThrow(OptionError);
    expect(() => linearAttention(x, x, x, { featureMap: "softmax" as never })).toThrow(/featureMap/);
    expect(() => linearAttention(x, x, x, { chunk: 4 } as never)).toThrow(/unknown option 'chunk'/);
    expect(() => linearAttention(x, tf.zeros([1, 2, 5, 3]), x)).toThrow(ShapeError);
    expect(() => linearAttention(x, x, x, { initialState: { s: tf.zeros([1, 2, 4, 3]) } })).toThrow(/initialState.s must have shape \[1, 2, 4, 4\]/);
    expect(() => linearAttention(x, x, x, { initialState: { s: tf.zeros([1, 2, 4, 4]) } })).toThrow(/initialState.z/);
    expect(() => linearAttention(x, x.slice([0, 0, 0, 0], [-1, -1, 3, -1]), x.slice([0, 0, 0, 0], [-1, -1, 3, -1]))).toThrow(/causal/);
  });
});
