// A causal depth-wise 1-D convolution over the sequence: the short convolution of Zoology's BaseConv and
// of the gated delta rule's official layer (torch Conv1d with groups = channels, padding k − 1, the first
// L outputs kept). Written as a sum of shifted slices, because the wasm backend has no depth-wise
// backprop kernels; every op used has a gradient on cpu, wasm and webgpu.
import * as tf from "@tensorflow/tfjs";
import { ShapeError } from "../errors";
import { assertFloat, assertKnownOptions, assertRank, assertShape, shapeString } from "../validate";

export interface CausalConv1dOptions {
  /** Per-channel bias `[channels]`. */
  bias?: tf.Tensor;
  /** The k − 1 inputs before `x` `[b, k − 1, channels]` (a generation cache); default zeros. */
  history?: tf.Tensor;
}

const NAME = "causalConv1d";

/**
 * `y[t] = bias + Σ_j kernel[j] ⊙ x[t − (k − 1) + j]` for `x: [b, L, channels]` and `kernel: [k, channels]`
 * (kernel[k − 1] weighs the current token; inputs before the sequence are `history`, or zeros).
 * Returns `[b, L, channels]`.
 */
export function causalConv1d(x: tf.Tensor, kernel: tf.Tensor, options: CausalConv1dOptions = {}): tf.Tensor3D {
  assertKnownOptions(NAME, options, ["bias", "history"]);
  assertRank(NAME, "x", x, 3);
  assertFloat(NAME, "x", x);
  assertRank(NAME, "kernel", kernel, 2);
  assertFloat(NAME, "kernel", kernel);
  const [b, length, channels] = x.shape as [number, number, number];
  const k = kernel.shape[0]!;
  if (kernel.shape[1] !== channels) throw new ShapeError(`${NAME}: kernel must be [k, ${channels}] (x has ${channels} channels), got ${shapeString(kernel.shape)}`);
  if (k < 1) throw new ShapeError(`${NAME}: kernel must hold at least one tap, got ${shapeString(kernel.shape)}`);
  const { bias, history } = options;
  if (bias !== undefined) {
    assertFloat(NAME, "bias", bias);
    assertShape(NAME, "bias", bias, [channels]);
  }
  if (history !== undefined) {
    assertFloat(NAME, "history", history);
    assertShape(NAME, "history", history, [b, k - 1, channels]);
  }
  return tf.tidy(() => {
    const before = history ?? tf.zeros([b, k - 1, channels]);
    const padded = k > 1 ? tf.concat([before, x], 1) : x;
    let out: tf.Tensor | null = null;
    for (let j = 0; j < k; j++) {
      const tap = kernel.slice([j, 0], [1, channels]).reshape([1, 1, channels]);
      const term = padded.slice([0, j, 0], [b, length, channels]).mul(tap);
      out = out === null ? term : out.add(term);
    }
    return (bias !== undefined ? out!.add(bias.reshape([1, 1, channels])) : out!) as tf.Tensor3D;
  });
}

/**
 * The inputs a causal convolution of `taps` taps reads before the token after `x`: the last taps − 1 rows
 * of `[history; x]` (history default zeros), `[b, taps − 1, channels]`, the `history` of the next call.
 */
export function causalConvHistory(x: tf.Tensor, taps: number, history?: tf.Tensor): tf.Tensor3D {
  assertRank("causalConvHistory", "x", x, 3);
  const [b, length, channels] = x.shape as [number, number, number];
  if (history !== undefined) assertShape("causalConvHistory", "history", history, [b, taps - 1, channels]);
  return tf.tidy(() => {
    const seen = tf.concat([history ?? tf.zeros([b, taps - 1, channels]), x], 1);
    return seen.slice([0, length, 0], [b, taps - 1, channels]) as tf.Tensor3D;
  });
}
