import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import { OptionError, ShapeError } from "@attnkit/core";
import { hostArray } from "@attnkit/core/reference";
import { backendTolerance, checkGradients, describeBackends, expectClose, expectNoLeaks, randomPair } from "@attnkit/testing";
import { temperatureSoftmax } from "../src/index";
import { referenceTemperatureSoftmax } from "../src/reference";

describeBackends("temperatureSoftmax", (backend) => {
  const tol = backendTolerance(backend, { atol: 2e-6, rtol: 2e-5 });

  it("equals the float64 reference on the last axis and on any other axis", async () => {
    const { tensor, host } = randomPair([3, 5, 7], 1, 3);
    const last = temperatureSoftmax(tensor, { temperature: 0.6 });
    await expectClose(last, referenceTemperatureSoftmax(host, 0.6), tol);
    // axis 1: move it last on the host, compare, move back.
    const moved = tensor.transpose([0, 2, 1]);
    const movedHost = hostArray([3, 7, 5], await moved.data());
    const axis1 = temperatureSoftmax(tensor, { temperature: 1.7, axis: 1 });
    const back = axis1.transpose([0, 2, 1]);
    await expectClose(back, referenceTemperatureSoftmax(movedHost, 1.7), tol);
    const axisNeg = temperatureSoftmax(tensor, { temperature: 1.7, axis: -2 });
    await expectClose(axisNeg, axis1, tol);
    tf.dispose([tensor, last, moved, axis1, back, axisNeg]);
  });

  it("τ = 1 is tf.softmax; a scalar tensor τ equals the number; fully masked rows give zeros", async () => {
    const { tensor } = randomPair([4, 6], 2);
    const a = temperatureSoftmax(tensor, { temperature: 1 });
    const b = tf.softmax(tensor);
    await expectClose(a, b, tol);
    const tau = tf.scalar(0.5);
    const c = temperatureSoftmax(tensor, { temperature: tau });
    const d = temperatureSoftmax(tensor, { temperature: 0.5 });
    await expectClose(c, d, tol);
    const masked = tf.tensor2d([[-Infinity, -Infinity, -Infinity], [0, -Infinity, 1]]);
    const m = temperatureSoftmax(masked, { temperature: 0.3 });
    const e1 = Math.exp(1 / 0.3);
    await expectClose(m, [0, 0, 0, 1 / (1 + e1), 0, e1 / (1 + e1)], tol);
    tf.dispose([tensor, a, b, tau, c, d, masked, m]);
  });

  it("gradients match finite differences (logits and a tensor τ), no leaks", async () => {
    const { tensor } = randomPair([2, 5], 3);
    const tau = tf.scalar(0.8);
    await checkGradients((x, t) => temperatureSoftmax(x!, { temperature: t!, axis: 0 }), [tensor, tau]);
    await expectNoLeaks(() => temperatureSoftmax(tensor, { temperature: 0.4, axis: 0 }));
    await expectNoLeaks(() => tf.grads((x: tf.Tensor, t: tf.Tensor) => temperatureSoftmax(x, { temperature: t }).square().sum())([tensor, tau]));
    tf.dispose([tensor, tau]);
  });

  it("bad input throws", () => {
    const x = tf.zeros([2, 3]);
    const cases: [() => unknown, typeof OptionError | typeof ShapeError, RegExp][] = [
      [() => temperatureSoftmax(x, { temperature: 0 }), OptionError, /temperatureSoftmax: temperature/],
      [() => temperatureSoftmax(x, { temperature: NaN }), OptionError, /temperature/],
      [() => temperatureSoftmax(x, { temperature: tf.ones([2]) }), OptionError, /temperature/],
      [() => temperatureSoftmax(x, { temperature: 1, axis: 2 }), OptionError, /axis/],
      [() => temperatureSoftmax(x, { temperature: 1, axis: 0.5 }), OptionError, /axis/],
      [() => temperatureSoftmax(x, { temperature: 1, dim: 0 } as never), OptionError, /unknown option 'dim'/],
      [() => temperatureSoftmax(x, undefined as never), OptionError, /temperature/],
      [() => temperatureSoftmax([1, 2] as never, { temperature: 1 }), ShapeError, /logits must be a tf.Tensor/],
      [() => temperatureSoftmax(tf.scalar(1), { temperature: 1 }), OptionError, /rank/],
    ];
    for (const [call, cls, message] of cases) {
      expect(call).toThrow(cls);
      expect(call).toThrow(message);
    }
    x.dispose();
  });
});
