import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { checkGradients, describeBackends, expectClose, expectNoLeaks, randomPair } from "@attnkit/testing";
import { ShapeError, batchMatMul, splitLeading } from "../src/index";

describeBackends("batchMatMul", () => {
  const cases: [boolean, boolean][] = [[false, false], [false, true], [true, false], [true, true]];
  for (const [ta, tb] of cases) {
    it(`equals tf.matMul with transposeA=${ta}, transposeB=${tb}, batched and shared`, async () => {
      const a = randomPair(ta ? [2, 3, 5, 4] : [2, 3, 4, 5], 1).tensor;
      const b = randomPair(tb ? [2, 3, 6, 5] : [2, 3, 5, 6], 2).tensor;
      await expectClose(batchMatMul(a, b, ta, tb), tf.matMul(a, b, ta, tb), { atol: 1e-5, rtol: 1e-5 });
      const shared = randomPair(tb ? [6, 5] : [5, 6], 3).tensor;
      const expected = tf.matMul(a, tf.broadcastTo(shared, [2, 3, ...shared.shape]), ta, tb);
      await expectClose(batchMatMul(a, shared, ta, tb), expected, { atol: 1e-5, rtol: 1e-5 });
      await checkGradients((x, y) => batchMatMul(x!, y!, ta, tb), [a, b]);
      await checkGradients((x, y) => batchMatMul(x!, y!, ta, tb), [a, shared]);
    });
  }
  it("takes the 2-D path for large matrices (above the small-matrix threshold) with the same results and gradients", async () => {
    // 2·130·64·130 FLOPs per matrix is above the small-matrix threshold: on wasm, per-matrix 2-D products.
    const a = randomPair([2, 130, 64], 21).tensor;
    const b = randomPair([2, 130, 64], 22).tensor;
    await expectClose(batchMatMul(a, b, false, true), tf.matMul(a, b, false, true), { atol: 1e-4, rtol: 1e-4 });
    await expectClose(batchMatMul(a, b, true, false), tf.matMul(a, b, true, false), { atol: 1e-4, rtol: 1e-4 });
    await checkGradients((x, y) => batchMatMul(x!, y!, false, true), [a, b], { maxElements: 8, atol: 5e-2, rtol: 5e-2 });
    tf.dispose([a, b]);
  });

  it("leaks nothing", async () => {
    const a = randomPair([3, 4, 5], 4).tensor;
    await expectNoLeaks(() => batchMatMul(a, a, false, true));
    await expectNoLeaks(() => tf.grads((x) => batchMatMul(x!, x!, true, false).sum())([a]));
    a.dispose();
  });
});

describe("batchMatMul bad input", () => {
  it("rejects shapes that do not fit", async () => {
    expect(() => batchMatMul(tf.zeros([2, 3, 4]), tf.zeros([2, 5, 6]))).toThrow(ShapeError);
    expect(() => batchMatMul(tf.zeros([2, 3, 4]), tf.zeros([3, 4, 6]))).toThrow(/batch/);
    expect(() => batchMatMul(tf.zeros([4]), tf.zeros([4, 4]))).toThrow(/a must have rank/);
  });
});

describeBackends("splitLeading", () => {
  it("splits along the leading axis like tf.unstack, and leaks nothing", async () => {
    const x = randomPair([5, 3, 2], 9).tensor;
    const parts = splitLeading(x);
    const expected = tf.unstack(x);
    expect(parts.map((p) => p.shape)).toEqual(expected.map((p) => p.shape));
    for (const [i, p] of parts.entries()) await expectClose(p, expected[i]!, { atol: 0, rtol: 0 });
    await expectNoLeaks(() => splitLeading(x));
    tf.dispose([x, ...parts, ...expected]);
  });
});
