import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { describeBackends, expectClose, expectNoLeaks, randomPair } from "@attnkit/testing";
import { ShapeError, addAll } from "../src/index";

describeBackends("addAll", () => {
  // 43 inputs: more storage buffers than WebGPU's AddN may bind in one shader on many adapters.
  for (const n of [1, 2, 7, 8, 43]) {
    it(`sums ${n} tensors like a host-side sum`, async () => {
      const pairs = Array.from({ length: n }, (_, i) => randomPair([3, 5], 100 + i));
      const expected = new Float64Array(15);
      for (const p of pairs) p.host.data.forEach((v, j) => (expected[j]! += v));
      const got = addAll(pairs.map((p) => p.tensor));
      expect(got.shape).toEqual([3, 5]);
      await expectClose(got, tf.tensor(Array.from(expected), [3, 5]), { atol: 1e-5, rtol: 1e-5 });
      await expectNoLeaks(() => addAll(pairs.map((p) => p.tensor)));
      tf.dispose([got, ...pairs.map((p) => p.tensor)]);
    });
  }
});

describe("addAll bad input", () => {
  it("rejects an empty list", () => {
    expect(() => addAll([])).toThrow(ShapeError);
    expect(() => addAll([])).toThrow(/addAll: xs must be a non-empty array/);
  });
});
