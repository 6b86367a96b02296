import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { describeBackends, expectEqualInts, expectNoLeaks, fc, randomValues } from "@attnkit/testing";
import { OptionError, ShapeError, topKIndices } from "../src/index";
import { hostArray, referenceTopK } from "../src/reference";

describeBackends("topKIndices", () => {
  it("sorts descending and breaks ties to the lower index", async () => {
    const s = tf.tensor2d([[0, 1, 1, 1, 0, 1, 2, 2], [-Infinity, 5, 0, -Infinity, 3, 3, 3, -Infinity]]);
    await expectEqualInts(topKIndices(s, 5), [6, 7, 1, 2, 3, 1, 4, 5, 6, 2]);
    s.dispose();
  });

  it("pads with -1 beyond the valid entries, and ranks a valid -∞ before invalid ones", async () => {
    const s = tf.tensor2d([[3, 1, 2, 5], [-Infinity, 2, -Infinity, 1]]);
    const valid = tf.tensor2d([[1, 0, 1, 0], [1, 0, 0, 0]], undefined, "bool");
    await expectEqualInts(topKIndices(s, 3, { valid }), [0, 2, -1, 0, -1, -1]);
    tf.dispose([s, valid]);
  });

  it("equals the reference on random scores with ties and masks", async () => {
    let seed = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 13 }), fc.nat(), async (rows, n, kSeed) => {
        seed++;
        const k = kSeed % (n + 1);
        // Coarse values make ties common.
        const vals = Array.from(randomValues(rows * n, seed), (x) => Math.round(x * 3));
        const valid = Array.from(randomValues(rows * n, seed + 99), (x) => (x > -0.4 ? 1 : 0));
        const s = tf.tensor2d(vals, [rows, n]);
        const v = tf.tensor2d(valid, [rows, n], "bool");
        const got = topKIndices(s, k, { valid: v });
        const want = referenceTopK(hostArray([rows, n], vals), k, hostArray([rows, n], valid));
        await expectEqualInts(got, want.data, [rows, k]);
        tf.dispose([s, v, got]);
      }),
      { numRuns: 30, seed: 5 },
    );
  });

  it("leaks nothing", async () => {
    const s = tf.tensor2d([[1, 2, 3]]);
    const valid = tf.tensor2d([[1, 1, 0]], undefined, "bool");
    await expectNoLeaks(() => topKIndices(s, 2, { valid }));
    tf.dispose([s, valid]);
  });
});

describe("topKIndices bad input", () => {
  it("rejects k out of range and mismatched valid", async () => {
    const s = tf.zeros([2, 4]);
    expect(() => topKIndices(s, 5)).toThrow(OptionError);
    expect(() => topKIndices(s, -1)).toThrow(/k must be an integer in \[0, 4\]/);
    expect(() => topKIndices(s, 2, { valid: tf.ones([3]) })).toThrow(ShapeError);
    expect(() => topKIndices(tf.scalar(1), 1)).toThrow(/scores must have rank/);
  });
});
