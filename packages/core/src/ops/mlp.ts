// The position-wise MLP act(x·W1 + b1)·W2 + b2 every transformer block and every MoE expert runs, with
// its backward pass written out: four fast 2-D products (see batchMatMul) and the saved pre-activation,
// instead of autodiff through TF.js's transposed products, which are 10–40× slower on wasm.
import * as tf from "@tensorflow/tfjs";
import { ShapeError } from "../errors";
import { assertOneOf, assertRank, assertTensor, shapeString } from "../validate";
import { batchMatMul } from "./matmul";

export const ACTIVATIONS = ["relu", "gelu-tanh", "gelu", "silu"] as const;
/** `'gelu-tanh'` is GPT-2's tanh approximation, `'gelu'` the exact (erf) form. */
export type Activation = (typeof ACTIVATIONS)[number];

const GELU_C = 2 * Math.sqrt(2 / Math.PI);

/** act(h), elementwise. */
export function activate(h: tf.Tensor, activation: Activation): tf.Tensor {
  if (activation === "relu") return tf.relu(h);
  if (activation === "silu") return h.mul(tf.sigmoid(h));
  if (activation === "gelu") return h.mul(tf.erf(h.mul(Math.SQRT1_2)).add(1)).mul(0.5);
  // 0.5·(1 + tanh(z)) = sigmoid(2z): the same function, and wasm's sigmoid is several times faster than
  // its tanh (and h·h·h than pow).
  return h.mul(tf.sigmoid(h.add(h.mul(h).mul(h).mul(0.044715)).mul(GELU_C)));
}

/** d act(h) / dh, elementwise. */
export function activationSlope(h: tf.Tensor, activation: Activation): tf.Tensor {
  if (activation === "relu") return tf.step(h);
  if (activation === "silu") {
    const s = tf.sigmoid(h);
    return s.add(h.mul(s).mul(tf.scalar(1).sub(s)));
  }
  if (activation === "gelu") {
    const cdf = tf.erf(h.mul(Math.SQRT1_2)).add(1).mul(0.5);
    return cdf.add(h.mul(tf.exp(h.square().mul(-0.5))).mul(1 / Math.sqrt(2 * Math.PI)));
  }
  const h2 = h.square();
  const s = tf.sigmoid(h.add(h2.mul(h).mul(0.044715)).mul(GELU_C));
  // d/dh [h·σ(z)] = σ + h·σ(1 − σ)·z'
  return s.add(h.mul(s).mul(tf.scalar(1).sub(s)).mul(h2.mul(3 * 0.044715).add(1).mul(GELU_C)));
}

const kernels = new Map<Activation, (...xs: tf.Tensor[]) => tf.Tensor>();

function kernel(activation: Activation): (...xs: tf.Tensor[]) => tf.Tensor {
  let k = kernels.get(activation);
  if (k) return k;
  k = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const [x, w1, b1, w2, b2] = args.slice(0, -1) as tf.Tensor[];
    const h = batchMatMul(x!, w1!).add(b1!);
    save([x!, w1!, w2!, h]);
    return {
      value: batchMatMul(activate(h, activation), w2!).add(b2!),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sw1, sw2, sh] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        const dh = batchMatMul(dy, sw2, false, true).mul(activationSlope(sh, activation));
        return [batchMatMul(dh, sw1, false, true), batchMatMul(sx, dh, true, false), dh.sum(0), batchMatMul(activate(sh, activation), dy, true, false), dy.sum(0)];
      },
    };
  });
  kernels.set(activation, k);
  return k;
}

/**
 * act(x·w1 + b1)·w2 + b2 for rows `x: [n, d]`, `w1: [d, f]`, `b1: [f]`, `w2: [f, d']`, `b2: [d']` →
 * `[n, d']`, differentiable in all five.
 */
export function mlp(x: tf.Tensor2D, w1: tf.Tensor, b1: tf.Tensor, w2: tf.Tensor, b2: tf.Tensor, activation: Activation): tf.Tensor2D {
  const fn = "mlp";
  assertRank(fn, "x", x, [2]);
  const weights = { w1, b1, w2, b2 };
  for (const [name, t] of Object.entries(weights)) assertTensor(fn, name, t);
  assertOneOf(fn, "activation", activation, ACTIVATIONS);
  const [d, f, out] = [x.shape[1], w1.shape[1] ?? -1, w2.shape[1] ?? -1];
  const expected: Record<keyof typeof weights, number[]> = { w1: [d, f], b1: [f], w2: [f, out], b2: [out] };
  for (const [name, shape] of Object.entries(expected) as [keyof typeof weights, number[]][]) {
    const got = weights[name].shape;
    if (got.length !== shape.length || got.some((s, i) => s !== shape[i])) {
      throw new ShapeError(`${fn}: ${name} must have shape ${shapeString(shape)} for x ${shapeString(x.shape)}, w1 ${shapeString(w1.shape)} and w2 ${shapeString(w2.shape)}; got ${shapeString(got)}`);
    }
  }
  return kernel(activation)(x, w1, b1, w2, b2) as tf.Tensor2D;
}
