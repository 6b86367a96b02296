import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import {
  checkGradients,
  describeBackends,
  expectClose,
  expectNoLeaks,
  loadFixture,
  randomPair,
  toHost,
  toTensor,
  type FixtureTensor,
} from "@attnkit/testing";
import { OptionError, ShapeError, applyRotary, l2Normalize, rmsNorm } from "../src/index";
import { referenceNorm, referenceRotary } from "../src/reference";

interface Case {
  name: string;
  function: string;
  options: { eps?: number };
  inputs: Record<string, FixtureTensor>;
  expected: Record<string, FixtureTensor>;
  tolerance: { atol: number; rtol: number };
}
const cases = loadFixture<{ cases: Case[] }>(new URL("./fixtures/misc.json", import.meta.url)).cases;

describeBackends("applyRotary", () => {
  for (const layout of ["half", "interleaved"] as const) {
    it(`equals the reference (${layout}), with default and explicit positions`, async () => {
      const x = randomPair([2, 3, 7, 8], 1);
      await expectClose(applyRotary(x.tensor, { layout }), referenceRotary(x.host, { layout }), { atol: 1e-5, rtol: 1e-4 });
      const positions = [5, 9, 100, 2, 0, 3, 7];
      await expectClose(applyRotary(x.tensor, { layout, positions, base: 500 }), referenceRotary(x.host, { layout, positions, base: 500 }), { atol: 1e-4, rtol: 1e-4 });
      await expectClose(applyRotary(x.tensor, { layout, positions: tf.tensor1d(positions) }), referenceRotary(x.host, { layout, positions }), { atol: 1e-4, rtol: 1e-4 });
      x.tensor.dispose();
    });
  }
  it("keeps norms, is relative (q·k depends on the offset only), differentiable, leak-free", async () => {
    const q = randomPair([1, 1, 1, 6], 2).tensor;
    const k = randomPair([1, 1, 1, 6], 3).tensor;
    const dot = async (pq: number, pk: number) => (await applyRotary(q, { positions: [pq] }).mul(applyRotary(k, { positions: [pk] })).sum().data())[0]!;
    expect(await dot(10, 7)).toBeCloseTo(await dot(3, 0), 4);
    await expectClose(applyRotary(q, { positions: [4] }).norm(), q.norm(), { atol: 1e-5, rtol: 1e-5 });
    await checkGradients((x) => applyRotary(x!, { layout: "interleaved" }), [randomPair([2, 5, 4], 4).tensor]);
    await expectNoLeaks(() => applyRotary(q, { layout: "interleaved", positions: [2] }));
    tf.dispose([q, k]);
  });
});

describeBackends("rmsNorm and l2Normalize", () => {
  for (const c of cases.filter((c) => ["l2norm", "rmsnorm"].includes(c.function))) {
    it(`matches fixture ${c.name}`, async () => {
      const x = toTensor(c.inputs.x!);
      const y = c.function === "l2norm" ? l2Normalize(x, { eps: c.options.eps ?? 1e-6 }) : rmsNorm(x, { weight: toTensor(c.inputs.weight!), eps: c.options.eps ?? 1e-6 });
      await expectClose(y, toHost(c.expected.y!), c.tolerance);
      tf.dispose([x, y]);
    });
  }
  it("equals the reference, is differentiable and leak-free", async () => {
    const x = randomPair([3, 4, 5], 5);
    const w = randomPair([5], 6);
    await expectClose(rmsNorm(x.tensor, { weight: w.tensor }), referenceNorm(x.host, { kind: "rms", weight: w.host.data }), { atol: 1e-5, rtol: 1e-4 });
    await expectClose(l2Normalize(x.tensor, { eps: 1e-3 }), referenceNorm(x.host, { kind: "l2", eps: 1e-3 }), { atol: 1e-5, rtol: 1e-4 });
    await expectClose(l2Normalize(tf.zeros([2, 3])), tf.zeros([2, 3]));
    await checkGradients((a, b) => rmsNorm(a!, { weight: b! }), [x.tensor, w.tensor]);
    await checkGradients((a) => l2Normalize(a!), [x.tensor]);
    await expectNoLeaks(() => [rmsNorm(x.tensor), l2Normalize(x.tensor)]);
    tf.dispose([x.tensor, w.tensor]);
  });
});

describe("rotary and norms bad input", () => {
  it("throws clear errors", async () => {
    expect(() => applyRotary(tf.zeros([2, 3, 5]))).toThrow(/even last dimension/);
    expect(() => applyRotary(tf.zeros([2, 3, 4]), { positions: [1, 2] })).toThrow(ShapeError);
    expect(() => applyRotary(tf.zeros([2, 3, 4]), { layout: "neox" as never })).toThrow(/layout must be one of 'half', 'interleaved'/);
    expect(() => applyRotary(tf.zeros([2, 3, 4]), { base: 0 })).toThrow(OptionError);
    expect(() => rmsNorm(tf.zeros([2, 3]), { weight: tf.ones([4]) })).toThrow(/weight must have shape \[3\]/);
    expect(() => l2Normalize(tf.zeros([2, 3]), { eps: 0 })).toThrow(/eps/);
  });
});
