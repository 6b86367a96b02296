import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import { describeBackends, expectClose, expectNoLeaks } from "@attnkit/testing";
import { stopGradient, withoutGradient } from "../src/index";

describeBackends("stopGradient and withoutGradient", () => {
  it("pass values through with zero gradients, and keep gradient-less ops off the tape", async () => {
    const x = tf.tensor1d([1, 3, 2]);
    // d/dx [x · stop(x)] = stop(x) = x, not 2x.
    const [g] = tf.grads((a) => a!.mul(stopGradient(a!)).sum())([x]);
    await expectClose(g!, x);
    // TopK has no gradient: behind withoutGradient the tape never sees it.
    const [g2] = tf.grads((a) => {
      const top2 = withoutGradient(() => tf.greaterEqual(a!, tf.topk(a!, 2).values.min()).cast("float32"));
      return a!.mul(top2).sum();
    })([x]);
    await expectClose(g2!, [0, 1, 1]);
    // A stabiliser the result does not depend on: softmax through exp(x − max) with the max detached.
    const softmax = (a: tf.Tensor) => {
      const e = tf.exp(a.sub(withoutGradient((t) => t.max(), a)));
      return e.div(e.sum());
    };
    const w = tf.tensor1d([0.3, -0.2, 0.5]);
    const [g3] = tf.grads((a) => softmax(a!).mul(w).sum())([x]);
    const [g4] = tf.grads((a) => tf.softmax(a!).mul(w).sum())([x]);
    await expectClose(g3!, g4!, { atol: 1e-6, rtol: 1e-5 });
    const constant = withoutGradient(() => tf.ones([2]));
    await expectClose(constant, [1, 1]);
    await expectNoLeaks(() => tf.grads((a) => a!.mul(stopGradient(a!)).sum())([x]));
    expect(tf.memory().numTensors).toBeGreaterThan(0);
    tf.dispose([x, g!, g2!, g3!, g4!, w, constant]);
  });
});
