import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import { checkGradients, describeBackends, expectClose, expectNoLeaks, randomPair } from "@attnkit/testing";
import { OptionError, ShapeError, causalConv1d, causalConvHistory } from "../src/index";

/** Host-side y[b, t, c] = bias[c] + Σ_j w[j, c]·x[b, t − (k − 1) + j, c], with `history` before t = 0. */
function hostConv(x: Float64Array, shape: number[], w: Float64Array, k: number, bias: Float64Array | null, history: Float64Array | null): number[] {
  const [b, length, c] = shape as [number, number, number];
  const at = (n: number, t: number, ch: number): number => {
    if (t >= 0) return x[(n * length + t) * c + ch]!;
    if (history === null) return 0;
    return history[(n * (k - 1) + (k - 1 + t)) * c + ch]!;
  };
  const out: number[] = [];
  for (let n = 0; n < b; n++) {
    for (let t = 0; t < length; t++) {
      for (let ch = 0; ch < c; ch++) {
        let s = bias ? bias[ch]! : 0;
        for (let j = 0; j < k; j++) s += w[j * c + ch]! * at(n, t - (k - 1) + j, ch);
        out.push(s);
      }
    }
  }
  return out;
}

describeBackends("causalConv1d", () => {
  for (const [shape, k] of [[[2, 7, 5], 3], [[1, 4, 3], 1], [[3, 2, 4], 4], [[1, 9, 6], 9]] as [number[], number][]) {
    it(`equals a host-side causal convolution: x ${JSON.stringify(shape)}, ${k} taps, with and without bias and history`, async () => {
      const [b, , c] = shape as [number, number, number];
      const x = randomPair(shape, 1);
      const w = randomPair([k, c], 2);
      const bias = randomPair([c], 3);
      const history = randomPair([b, k - 1, c], 4);
      for (const withBias of [false, true]) {
        for (const withHistory of [false, true]) {
          const y = causalConv1d(x.tensor, w.tensor, { ...(withBias ? { bias: bias.tensor } : {}), ...(withHistory ? { history: history.tensor } : {}) });
          expect(y.shape).toEqual(shape);
          const expected = hostConv(x.host.data, shape, w.host.data, k, withBias ? bias.host.data : null, withHistory ? history.host.data : null);
          await expectClose(y, tf.tensor(expected, shape), { atol: 1e-5, rtol: 1e-5 });
        }
      }
    });
  }

  it("running a sequence in pieces, each with the previous inputs as history, equals one call", async () => {
    const x = randomPair([2, 8, 3], 5).tensor;
    const w = randomPair([3, 3], 6).tensor;
    const full = causalConv1d(x, w);
    const first = causalConv1d(x.slice([0, 0, 0], [2, 5, 3]), w);
    const second = causalConv1d(x.slice([0, 5, 0], [2, 3, 3]), w, { history: x.slice([0, 3, 0], [2, 2, 3]) });
    await expectClose(tf.concat([first, second], 1), full, { atol: 1e-6, rtol: 1e-6 });
  });

  it("causalConvHistory keeps the last taps − 1 inputs, across calls shorter than that", async () => {
    const x = randomPair([2, 5, 3], 13).tensor;
    await expectClose(causalConvHistory(x, 3), x.slice([0, 3, 0], [2, 2, 3]), { atol: 0, rtol: 0 });
    // Token by token with 4 taps: after two tokens the history is [0, x0, x1].
    let history = causalConvHistory(x.slice([0, 0, 0], [2, 1, 3]), 4);
    history = causalConvHistory(x.slice([0, 1, 0], [2, 1, 3]), 4, history);
    await expectClose(history, tf.concat([tf.zeros([2, 1, 3]), x.slice([0, 0, 0], [2, 2, 3])], 1), { atol: 0, rtol: 0 });
    expect(causalConvHistory(x, 1).shape).toEqual([2, 0, 3]);
    expect(() => causalConvHistory(x, 3, tf.zeros([2, 3, 3]))).toThrow(/causalConvHistory.*history/);
  });

  it("has gradients in x, kernel, bias and history", async () => {
    const x = randomPair([2, 5, 3], 7).tensor;
    const w = randomPair([3, 3], 8).tensor;
    const bias = randomPair([3], 9).tensor;
    const history = randomPair([2, 2, 3], 10).tensor;
    await checkGradients((a, b, c, d) => causalConv1d(a!, b!, { bias: c!, history: d! }), [x, w, bias, history]);
  });

  it("names the argument of bad input", () => {
    const x = tf.zeros([2, 5, 3]);
    expect(() => causalConv1d(tf.zeros([5, 3]), tf.zeros([3, 3]))).toThrow(/causalConv1d.*x/);
    expect(() => causalConv1d(x, tf.zeros([3, 4]))).toThrow(ShapeError);
    expect(() => causalConv1d(x, tf.zeros([3, 4]))).toThrow(/kernel must be \[k, 3\]/);
    expect(() => causalConv1d(x, tf.zeros([3]))).toThrow(/causalConv1d.*kernel/);
    expect(() => causalConv1d(x, tf.zeros([3, 3]), { bias: tf.zeros([4]) })).toThrow(/causalConv1d.*bias/);
    expect(() => causalConv1d(x, tf.zeros([3, 3]), { history: tf.zeros([2, 3, 3]) })).toThrow(/causalConv1d.*history/);
    expect(() => causalConv1d(x, tf.zeros([3, 3]), { padding: 1 } as never)).toThrow(OptionError);
    expect(() => causalConv1d(tf.zeros([2, 5, 3], "int32"), tf.zeros([3, 3]))).toThrow(/causalConv1d.*x/);
  });

  it("leaks nothing", async () => {
    const x = randomPair([2, 6, 4], 11).tensor;
    const w = randomPair([3, 4], 12).tensor;
    const bias = tf.ones([4]);
    await expectNoLeaks(() => causalConv1d(x, w, { bias }));
  });
});
