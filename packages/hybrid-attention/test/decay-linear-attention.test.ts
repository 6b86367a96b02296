import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { OptionError, ShapeError } from "@attnkit/core";
import { backendTolerance, checkGradients, describeBackends, expectClose, expectNoLeaks, fc, loadFixture, randomPair, toHost, toNumbers, toTensor, type FixtureTensor } from "@attnkit/testing";
import { decayLinearAttention, linearAttention } from "../src/index";
import { referenceLinearAttention } from "../src/reference";

interface Case {
  name: string;
  options: { causal: boolean; scale: number; suggested_chunk_sizes: number[] };
  inputs: Record<string, FixtureTensor>;
  expected: Record<string, FixtureTensor>;
  tolerance: { atol: number; rtol: number };
}
const cases = loadFixture<{ cases: Case[] }>(new URL("./fixtures/decay_linear_attention.json", import.meta.url)).cases;

describeBackends("decayLinearAttention", (backend) => {
  for (const c of cases) {
    it(`matches fixture ${c.name} in parallel, recurrent and chunk mode (chunk sizes ${c.options.suggested_chunk_sizes.join(", ")})`, async () => {
      const [q, k, v] = ["q", "k", "v"].map((n) => toTensor(c.inputs[n]!));
      const decay = toNumbers(c.inputs.decay!);
      const initialState = c.inputs.initial_state ? { s: toTensor(c.inputs.initial_state) } : null;
      const tol = backendTolerance(backend, c.tolerance);
      const runs = [
        { mode: "parallel" as const, chunkSize: 64 },
        { mode: "recurrent" as const, chunkSize: 64 },
        ...c.options.suggested_chunk_sizes.map((chunkSize) => ({ mode: "chunk" as const, chunkSize })),
      ];
      for (const run of backend === "webgpu" ? runs.slice(0, 4) : runs) {
        const r = decayLinearAttention(q!, k!, v!, { decay, causal: c.options.causal, scale: c.options.scale, initialState, returnState: true, ...run });
        await expectClose(r.output, toHost(c.expected.o!), tol);
        await expectClose(r.state.s, toHost(c.expected.final_state!), tol);
        tf.dispose([r.output, r.state.s]);
      }
      // The decay may also come as a tensor.
      await expectClose(decayLinearAttention(q!, k!, v!, { decay: tf.tensor1d(decay), scale: c.options.scale, initialState, chunkSize: 4 }), toHost(c.expected.o!), tol);
      tf.dispose([q!, k!, v!]);
    });
  }

  it("all modes equal the float64 reference on random shapes, causal and non-causal, odd lengths", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({ b: fc.integer({ min: 1, max: 2 }), h: fc.integer({ min: 1, max: 3 }), t: fc.integer({ min: 1, max: backend === "webgpu" ? 9 : 21 }), d: fc.integer({ min: 1, max: 5 }), dv: fc.integer({ min: 1, max: 5 }) }),
        fc.boolean(),
        fc.constantFrom(1, 3, 4, 8, 64),
        fc.integer({ min: 1, max: 1000 }),
        async (s, causal, chunkSize, seed) => {
          const decay = Array.from({ length: s.h }, (_, i) => [0.95, 0.6, 1][i % 3]!);
          const q = randomPair([s.b, s.h, s.t, s.d], seed);
          const k = randomPair([s.b, s.h, s.t, s.d], seed + 1);
          const v = randomPair([s.b, s.h, s.t, s.dv], seed + 2);
          const ref = referenceLinearAttention(q.host, k.host, v.host, { decay, causal, scale: 1 });
          for (const mode of ["parallel", "recurrent", "chunk"] as const) {
            await expectClose(decayLinearAttention(q.tensor, k.tensor, v.tensor, { decay, causal, mode, chunkSize }), ref.o, { atol: 1e-4, rtol: 1e-3 });
          }
          tf.dispose([q.tensor, k.tensor, v.tensor]);
        },
      ),
      { numRuns: backend === "webgpu" ? 3 : 8 },
    );
  });

  it("λ = 1 is plain (unnormalised, identity) linear attention; pieces with carried state equal the full pass", async () => {
    const q = randomPair([2, 2, 11, 3], 21).tensor;
    const k = randomPair([2, 2, 11, 3], 22).tensor;
    const v = randomPair([2, 2, 11, 4], 23).tensor;
    await expectClose(
      decayLinearAttention(q, k, v, { decay: [1, 1], chunkSize: 4 }),
      linearAttention(q, k, v, { featureMap: "identity", normalize: false, scale: 1, mode: "parallel" }),
      { atol: 1e-5, rtol: 1e-4 },
    );
    const decay = [0.9, 0.5];
    const full = decayLinearAttention(q, k, v, { decay, mode: "parallel", returnState: true });
    for (const mode of ["parallel", "recurrent", "chunk"] as const) {
      const cut = (x: tf.Tensor, from: number, len: number) => x.slice([0, 0, from, 0], [-1, -1, len, -1]);
      const a = decayLinearAttention(cut(q, 0, 5), cut(k, 0, 5), cut(v, 0, 5), { decay, mode, chunkSize: 3, returnState: true });
      const b = decayLinearAttention(cut(q, 5, 6), cut(k, 5, 6), cut(v, 5, 6), { decay, mode, chunkSize: 4, initialState: a.state, returnState: true });
      await expectClose(tf.concat([a.output, b.output], 2), full.output, { atol: 1e-5, rtol: 1e-4 });
      await expectClose(b.state.s, full.state.s, { atol: 1e-5, rtol: 1e-4 });
    }
    await expectNoLeaks(() => decayLinearAttention(q, k, v, { decay, chunkSize: 4, returnState: true }));
    await expectNoLeaks(() => decayLinearAttention(q, k, v, { decay, causal: false, mode: "recurrent" }));
    tf.dispose([q, k, v, full.output, full.state.s]);
  });

  it("has correct gradients in every mode (q, k, v and a tensor decay)", async () => {
    const q = randomPair([1, 2, 5, 3], 31).tensor;
    const k = randomPair([1, 2, 5, 3], 32).tensor;
    const v = randomPair([1, 2, 5, 2], 33).tensor;
    const decay = tf.tensor1d([0.8, 0.6]);
    for (const mode of ["parallel", "recurrent", "chunk"] as const) {
      await checkGradients((a, b, c, d) => decayLinearAttention(a!, b!, c!, { decay: d!, mode, chunkSize: 2 }), [q, k, v, decay], { maxElements: backend === "webgpu" ? 2 : 8 });
    }
    await checkGradients((a, b, c) => decayLinearAttention(a!, b!, c!, { decay: [0.7, 0.9], causal: false, chunkSize: 2 }), [q, k, v], { maxElements: backend === "webgpu" ? 2 : 8 });
  });
});

describe("decayLinearAttention bad input", () => {
  it("throws clear errors", () => {
    const x = tf.zeros([1, 2, 5, 4]);
    expect(() => decayLinearAttention(x, x, x, { decay: [0.5, 0] })).toThrow(/decay\[1\] must be in \(0, 1\], got 0/);
    expect(() => decayLinearAttention(x, x, x, { decay: [0.5, 1.2] })).toThrow(OptionError);
    expect(() => decayLinearAttention(x, x, x, { decay: [0.5] })).toThrow(/one value per head \(2\)/);
    expect(() => decayLinearAttention(x, x, x, { decay: tf.ones([3]) })).toThrow(ShapeError);
    expect(() => decayLinearAttention(x, x, x, {} as never)).toThrow(/decay/);
    expect(() => decayLinearAttention(x, x, x, { decay: [1, 1], causal: false, returnState: true })).toThrow(/causal: true/);
    expect(() => decayLinearAttention(x, x, x, { decay: [1, 1], mode: "dense" as never })).toThrow(/mode/);
    expect(() => decayLinearAttention(x, x, x, { decay: [1, 1], chunkSize: 2.5 })).toThrow(/chunkSize must be an integer/);
  });
});
