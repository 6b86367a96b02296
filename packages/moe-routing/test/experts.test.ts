import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { OptionError, ShapeError } from "@attnkit/core";
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
  toNumbers,
  toTensor,
  type FixtureTensor,
} from "@attnkit/testing";
import { expertCapacity, moeForward, topKGate } from "../src/index";
import { hostArray, referenceMoeForward } from "../src/reference";

type Fixture = { inputs: Record<string, FixtureTensor>; options: Record<string, unknown>; expected: Record<string, FixtureTensor>; tolerance: { atol: number; rtol: number } };
const fixture = (name: string) => loadFixture<Fixture>(new URL(`./fixtures/${name}.json`, import.meta.url));

function experts(e: number, d: number, f: number, seed: number, withBias = true) {
  const w1 = randomPair([e, d, f], seed, 0.5);
  const w2 = randomPair([e, f, d], seed + 1, 0.5);
  const b1 = randomPair([e, f], seed + 2, 0.2);
  const b2 = randomPair([e, d], seed + 3, 0.2);
  return {
    tensors: withBias ? { w1: w1.tensor, w2: w2.tensor, b1: b1.tensor, b2: b2.tensor } : { w1: w1.tensor, w2: w2.tensor },
    host: withBias ? { w1: w1.host, w2: w2.host, b1: b1.host, b2: b2.host } : { w1: w1.host, w2: w2.host },
    dispose: () => tf.dispose([w1.tensor, w2.tensor, b1.tensor, b2.tensor]),
  };
}

describeBackends("moeForward", (backend) => {
  it("matches the moe_forward fixture, dense and sparse", async () => {
    const f = fixture("moe_forward_relu");
    const x = toTensor(f.inputs.x!);
    const w = { w1: toTensor(f.inputs.experts_w1!), w2: toTensor(f.inputs.experts_w2!) };
    const combine = toTensor(f.inputs.combine!);
    const tol = backendTolerance(backend, f.tolerance);
    const want = toNumbers(f.expected.y!);
    await expectClose(moeForward(x, w, combine, { activation: "relu" }) as tf.Tensor, want, tol);
    // The fixture's combine has two experts per token: dispatch them sparsely.
    const indices = tf.topk(combine, 2).indices;
    await expectClose(moeForward(x, w, combine, { activation: "relu", indices }) as tf.Tensor, want, tol);
    tf.dispose([x, w.w1, w.w2, combine, indices]);
    expect(toHost(f.expected.y!).shape).toEqual([12, 8]);
  });

  it("equals the reference on random shapes, activations and capacities", async () => {
    const tol = backendTolerance(backend, { atol: 2e-5, rtol: 2e-4 });
    let seed = 300;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 11 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 6 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 12 }),
        async (t, d, e, f, gelu, capacity) => {
          seed += 7;
          const topK = 1 + (seed % e);
          const activation = gelu ? ("gelu-tanh" as const) : ("relu" as const);
          const x = randomPair([t, d], seed);
          const ex = experts(e, d, f, seed + 1, seed % 2 === 0);
          const g = topKGate(x.tensor, randomPair([d, e], seed + 9).tensor, { topK });
          const combineHost = hostArray([t, e], await g.combine.data());
          const indicesHost = hostArray([t, topK], await g.indices.data());
          const dense = moeForward(x.tensor, ex.tensors, g.combine, { activation }) as tf.Tensor;
          await expectClose(dense, referenceMoeForward(x.host, ex.host, combineHost, { activation }).output.data, tol);
          const sparse = moeForward(x.tensor, ex.tensors, g.combine, { activation, indices: g.indices, capacity, returnKept: true }) as { output: tf.Tensor; kept: tf.Tensor };
          const want = referenceMoeForward(x.host, ex.host, combineHost, { activation, indices: indicesHost, capacity });
          await expectClose(sparse.output, want.output.data, tol);
          await expectEqualInts(sparse.kept, want.kept!.data, [t, topK]);
          tf.dispose([x.tensor, dense, sparse.output, sparse.kept, ...Object.values(g)]);
          ex.dispose();
        },
      ),
      { numRuns: backend === "webgpu" ? 4 : 20, seed: 3 },
    );
  });

  it("capacity drops are deterministic, by (slot, token) priority, and counted", async () => {
    // Every token picks expert 0 first, expert 1 second; capacity 3.
    const t = 5;
    const indices = tf.tensor2d(Array.from({ length: t }, () => [0, 1]), [t, 2], "int32");
    const combine = tf.tensor2d(Array.from({ length: t }, () => [0.75, 0.25]));
    const x = randomPair([t, 3], 40).tensor;
    const ex = experts(2, 3, 4, 41);
    const a = moeForward(x, ex.tensors, combine, { indices, capacity: 3, returnKept: true }) as { output: tf.Tensor; kept: tf.Tensor };
    await expectEqualInts(a.kept, [1, 1, 1, 1, 1, 1, 0, 0, 0, 0]);
    const b = moeForward(x, ex.tensors, combine, { indices, capacity: 3, returnKept: true }) as { output: tf.Tensor; kept: tf.Tensor };
    await expectClose(b.output, a.output, { atol: 0, rtol: 0 });
    // Dropped tokens get nothing from the experts.
    const rows = await a.output.slice([3, 0], [2, 3]).abs().max().data();
    expect(rows[0]).toBe(0);
    expect(Array.from(await tf.sub(10, a.kept.sum()).data())[0]).toBe(4);
    tf.dispose([indices, combine, x, a.output, a.kept, b.output, b.kept]);
    ex.dispose();
    expect(expertCapacity(1024, 8, 2, 1.25)).toBe(320);
    expect(expertCapacity(10, 8, 2, null)).toBe(10);
    expect(expertCapacity(4, 8, 1, 0.1)).toBe(1);
  });

  if (backend !== "webgpu") {
    // Finite differences on webgpu's software renderer are slow; cpu and wasm check the same code path.
    it("gradients reach x, every expert weight and the router (combine), dense and sparse", async () => {
      const x = randomPair([4, 3], 50).tensor;
      const ex = experts(3, 3, 4, 51);
      const { w1, w2, b1, b2 } = ex.tensors as Required<typeof ex.tensors>;
      const wg = randomPair([3, 3], 56).tensor;
      const gated = (xx: tf.Tensor, ww: tf.Tensor) => topKGate(xx, ww, { topK: 2 });
      const o = { eps: 1e-3, maxElements: 12 };
      await checkGradients((xx, ww, a, b, c, d) => moeForward(xx!, { w1: a!, w2: b!, b1: c!, b2: d! }, gated(xx!, ww!).combine, { activation: "gelu-tanh" }) as tf.Tensor, [x, wg, w1, w2, b1, b2], o);
      await checkGradients((xx, ww, a, b, c, d) => {
        const g = gated(xx!, ww!);
        return moeForward(xx!, { w1: a!, w2: b!, b1: c!, b2: d! }, g.combine, { indices: g.indices, capacity: 3 }) as tf.Tensor;
      }, [x, wg, w1, w2, b1, b2], o);
      tf.dispose([x, wg]);
      ex.dispose();
    });
  }

  it("leaks nothing", async () => {
    const x = randomPair([6, 3], 60).tensor;
    const ex = experts(4, 3, 5, 61);
    const g = topKGate(x, randomPair([3, 4], 62).tensor, { topK: 2 });
    await expectNoLeaks(() => moeForward(x, ex.tensors, g.combine));
    await expectNoLeaks(() => moeForward(x, ex.tensors, g.combine, { indices: g.indices, capacity: 2, returnKept: true }));
    await expectNoLeaks(() => tf.grads((xx) => (moeForward(xx!, ex.tensors, g.combine, { indices: g.indices }) as tf.Tensor).sum())([x]));
    tf.dispose([x, ...Object.values(g)]);
    ex.dispose();
  });
});

describe("moeForward bad input", () => {
  const x = tf.zeros([4, 3]);
  const w = { w1: tf.zeros([2, 3, 5]), w2: tf.zeros([2, 5, 3]) };
  const combine = tf.zeros([4, 2]);
  it("rejects mismatched shapes", () => {
    expect(() => moeForward(x, { w1: tf.zeros([2, 4, 5]), w2: w.w2 }, combine)).toThrow(/moeForward: experts.w1 must have shape \[E, 3, f\]/);
    expect(() => moeForward(x, { w1: w.w1, w2: tf.zeros([2, 5, 4]) }, combine)).toThrow(ShapeError);
    expect(() => moeForward(x, { ...w, b1: tf.zeros([2, 4]) }, combine)).toThrow(/experts.b1 must have shape \[2, 5\]/);
    expect(() => moeForward(x, w, tf.zeros([4, 3]))).toThrow(/combine must have shape \[4, 2\]/);
    expect(() => moeForward(x, w, combine, { indices: tf.zeros([4, 1]) })).toThrow(/indices must be an int32 tensor/);
  });
  it("rejects bad options", () => {
    expect(() => moeForward(x, w, combine, { activation: "swish" as never })).toThrow(OptionError);
    expect(() => moeForward(x, w, combine, { act: "relu" } as never)).toThrow(/unknown option 'act'/);
    expect(() => moeForward(x, w, combine, { indices: tf.zeros([4, 1], "int32"), capacity: 0 })).toThrow(/capacity must be an integer ≥ 1/);
  });
});
