import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { checkGradients, describeBackends, expectClose, expectNoLeaks, randomPair } from "@attnkit/testing";
import { OptionError, ShapeError, cumsum } from "../src/index";

/** Host-side cumulative sum of a row-major array along `axis`. */
function hostCumsum(data: Float64Array, shape: number[], axis: number, exclusive: boolean, reverse: boolean): number[] {
  const out = new Array<number>(data.length).fill(0);
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const n = shape[axis]!;
  const outer = data.length / (n * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let acc = 0;
      for (let step = 0; step < n; step++) {
        const j = reverse ? n - 1 - step : step;
        const at = (o * n + j) * inner + i;
        if (exclusive) {
          out[at] = acc;
          acc += data[at]!;
        } else {
          acc += data[at]!;
          out[at] = acc;
        }
      }
    }
  }
  return out;
}

describeBackends("cumsum", () => {
  // [3, 5, 7] and [3, 130]: shapes where TF.js 4.22's WebGPU cumsum with reverse: true is wrong.
  const cases: [number[], number][] = [[[3, 5, 7], 2], [[3, 5, 7], 1], [[3, 5, 7], -3], [[3, 130], 1], [[9], 0]];
  for (const [shape, axis] of cases) {
    it(`equals a host-side scan along axis ${axis} of ${JSON.stringify(shape)}, in all four modes`, async () => {
      const { tensor, host } = randomPair(shape, 3);
      const ax = axis < 0 ? axis + shape.length : axis;
      for (const exclusive of [false, true]) {
        for (const reverse of [false, true]) {
          const expected = tf.tensor(hostCumsum(host.data, shape, ax, exclusive, reverse), shape);
          await expectClose(cumsum(tensor, axis, { exclusive, reverse }), expected, { atol: 1e-4, rtol: 1e-5 });
          expected.dispose();
        }
      }
      tensor.dispose();
    });
  }

  it("has the mirrored scan as its gradient, in every mode", async () => {
    const { tensor } = randomPair([3, 5, 7], 4);
    for (const exclusive of [false, true]) {
      for (const reverse of [false, true]) await checkGradients((x) => cumsum(x!, 2, { exclusive, reverse }), [tensor]);
    }
    await checkGradients((x) => cumsum(x!, 1, { reverse: true }), [tensor]);
    tensor.dispose();
  });

  it("leaks nothing", async () => {
    const { tensor } = randomPair([4, 6], 5);
    await expectNoLeaks(() => cumsum(tensor, 1, { reverse: true }));
    await expectNoLeaks(() => tf.grads((x: tf.Tensor) => cumsum(x, 0).sum())([tensor]));
    tensor.dispose();
  });
});

describe("cumsum bad input", () => {
  it("names the argument", () => {
    expect(() => cumsum(tf.scalar(1))).toThrow(ShapeError);
    expect(() => cumsum(tf.zeros([2, 3]), 2)).toThrow(/cumsum: axis must be an integer in \[-2, 1\]/);
    expect(() => cumsum(tf.zeros([2, 3]), 0, { reverse: 1 as unknown as boolean })).toThrow(/cumsum: reverse must be true or false/);
    expect(() => cumsum(tf.zeros([2, 3]), 0, { backwards: true } as never)).toThrow(OptionError);
  });
});
