// Finite-difference gradient checks. The loss is ⟨f(x), R⟩ for a fixed random R, so every output
// element takes part; central differences in float32 with a step suited to float32 inputs of order 1.
import * as tf from "@tensorflow/tfjs";
import { expect } from "vitest";

export interface GradientCheckOptions {
  /** Finite-difference step (default 1e-2; the error of a central difference is O(eps²)). */
  eps?: number;
  atol?: number;
  rtol?: number;
  /** Check at most this many elements per input, spread over the tensor (default 48). */
  maxElements?: number;
  seed?: number;
}

export async function checkGradients(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], options: GradientCheckOptions = {}): Promise<void> {
  const { eps = 1e-2, atol = 2e-3, rtol = 2e-2, maxElements = 48, seed = 7 } = options;
  const probe = tf.tidy(() => f(...inputs));
  const r = tf.randomUniform(probe.shape, -1, 1, "float32", seed);
  probe.dispose();
  const loss = (...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), r)) as tf.Scalar;
  const grads = tf.grads(loss)(inputs);
  const analytic = await Promise.all(grads.map(async (g) => Array.from(await g.data())));
  tf.dispose(grads);
  for (let which = 0; which < inputs.length; which++) {
    const x = inputs[which]!;
    const base = Float32Array.from(await x.data());
    const n = base.length;
    const stride = Math.max(1, Math.floor(n / maxElements));
    for (let i = 0; i < n; i += stride) {
      const at = async (delta: number): Promise<number> => {
        const data = Float32Array.from(base);
        data[i] = data[i]! + delta;
        const moved = tf.tensor(data, x.shape, x.dtype);
        const value = loss(...inputs.map((y, j) => (j === which ? moved : y)));
        const result = (await value.data())[0]!;
        tf.dispose([moved, value]);
        return result;
      };
      const numeric = ((await at(eps)) - (await at(-eps))) / (2 * eps);
      const got = analytic[which]![i]!;
      const ok = Math.abs(got - numeric) <= atol + rtol * Math.abs(numeric);
      if (!ok) expect.fail(`input ${which}, element ${i}: analytic gradient ${got}, finite difference ${numeric}`);
    }
  }
  r.dispose();
}
