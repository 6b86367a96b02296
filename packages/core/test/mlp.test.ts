import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { checkGradients, describeBackends, expectClose, expectNoLeaks, randomPair } from "@attnkit/testing";
import { ACTIVATIONS, OptionError, ShapeError, activate, activationSlope, mlp, type Activation } from "../src/index";

// Each activation written the textbook way, independent of the implementation under test.
const textbook: Record<Activation, (h: tf.Tensor) => tf.Tensor> = {
  relu: (h) => tf.maximum(h, 0),
  silu: (h) => h.div(tf.exp(h.neg()).add(1)),
  gelu: (h) => h.mul(tf.erf(h.div(Math.SQRT2)).add(1)).mul(0.5),
  "gelu-tanh": (h) => h.mul(tf.tanh(h.add(h.pow(3).mul(0.044715)).mul(Math.sqrt(2 / Math.PI))).add(1)).mul(0.5),
};

describeBackends("mlp", () => {
  const x = () => randomPair([7, 5], 1).tensor as tf.Tensor2D;
  const weights = () => [randomPair([5, 6], 2, 0.5).tensor, randomPair([6], 3).tensor, randomPair([6, 4], 4, 0.5).tensor, randomPair([4], 5).tensor] as const;

  for (const activation of ACTIVATIONS) {
    it(`'${activation}': equals act(x·w1 + b1)·w2 + b2, with matching gradients`, async () => {
      const input = x();
      const [w1, b1, w2, b2] = weights();
      const plain = (xi: tf.Tensor, a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => tf.matMul(textbook[activation](tf.matMul(xi, a).add(b)), c).add(d);
      await expectClose(mlp(input, w1, b1, w2, b2, activation), plain(input, w1, b1, w2, b2), { atol: 1e-5, rtol: 1e-5 });
      const r = randomPair([7, 4], 6).tensor;
      const ours = tf.grads((...xs: tf.Tensor[]) => mlp(xs[0] as tf.Tensor2D, xs[1]!, xs[2]!, xs[3]!, xs[4]!, activation).mul(r).sum())([input, w1, b1, w2, b2]);
      const theirs = tf.grads((...xs: tf.Tensor[]) => plain(xs[0]!, xs[1]!, xs[2]!, xs[3]!, xs[4]!).mul(r).sum())([input, w1, b1, w2, b2]);
      for (const [i, g] of ours.entries()) await expectClose(g, theirs[i]!, { atol: 1e-4, rtol: 1e-4 });
      tf.dispose([input, w1, b1, w2, b2, r, ...ours, ...theirs]);
    });
  }

  it("passes a finite-difference gradient check (gelu-tanh)", async () => {
    const input = x();
    const [w1, b1, w2, b2] = weights();
    await checkGradients((...xs) => mlp(xs[0] as tf.Tensor2D, xs[1]!, xs[2]!, xs[3]!, xs[4]!, "gelu-tanh"), [input, w1, b1, w2, b2]);
    tf.dispose([input, w1, b1, w2, b2]);
  });

  it("activationSlope is the derivative of activate", async () => {
    const h = randomPair([40], 8, 3).tensor;
    for (const activation of ACTIVATIONS) {
      const [slope] = tf.grads((t: tf.Tensor) => textbook[activation](t).sum())([h]);
      await expectClose(activationSlope(h, activation), slope!, { atol: 1e-4, rtol: 1e-4 });
      await expectClose(activate(h, activation), textbook[activation](h), { atol: 1e-5, rtol: 1e-5 });
      slope!.dispose();
    }
    h.dispose();
  });

  it("leaks nothing", async () => {
    const input = x();
    const [w1, b1, w2, b2] = weights();
    await expectNoLeaks(() => mlp(input, w1, b1, w2, b2, "relu"));
    await expectNoLeaks(() => tf.grads((a: tf.Tensor, b: tf.Tensor) => mlp(input, a, b1, b, b2, "silu").sum())([w1, w2]));
    tf.dispose([input, w1, b1, w2, b2]);
  });
});

describe("mlp bad input", () => {
  const ok = () => [tf.zeros([3, 5]) as tf.Tensor2D, tf.zeros([5, 6]), tf.zeros([6]), tf.zeros([6, 4]), tf.zeros([4])] as const;
  it("names the argument whose shape does not fit", () => {
    const [x, w1, b1, w2, b2] = ok();
    expect(() => mlp(tf.zeros([2, 3, 5]) as unknown as tf.Tensor2D, w1, b1, w2, b2, "relu")).toThrow(/mlp: x must have rank 2/);
    expect(() => mlp(x, tf.zeros([4, 6]), b1, w2, b2, "relu")).toThrow(ShapeError);
    expect(() => mlp(x, tf.zeros([4, 6]), b1, w2, b2, "relu")).toThrow(/w1 must have shape \[5, 6\]/);
    expect(() => mlp(x, w1, tf.zeros([5]), w2, b2, "relu")).toThrow(/b1 must have shape \[6\]/);
    expect(() => mlp(x, w1, b1, tf.zeros([5, 4]), b2, "relu")).toThrow(/w2 must have shape \[6, 4\]/);
    expect(() => mlp(x, w1, b1, w2, tf.zeros([5]), "relu")).toThrow(/b2 must have shape \[4\]/);
    expect(() => mlp(x, w1, b1, w2, [1] as unknown as tf.Tensor, "relu")).toThrow(/b2 must be a tf.Tensor/);
  });
  it("rejects an unknown activation", () => {
    const [x, w1, b1, w2, b2] = ok();
    expect(() => mlp(x, w1, b1, w2, b2, "tanh" as Activation)).toThrow(OptionError);
    expect(() => mlp(x, w1, b1, w2, b2, "tanh" as Activation)).toThrow(/activation must be one of/);
  });
});
