// tf.cumsum, right on every backend and differentiable along any axis. TF.js 4.22's WebGPU cumsum with
// `reverse: true` is wrong for some shapes (e.g. [3, 5, 7] along either inner axis, [3, 130] along the
// last), and tf.cumsum's gradient is itself a reverse cumsum, so training through a forward cumsum goes
// wrong there too. Here a reverse scan runs as flip → forward scan → flip, on the forward and the
// backward pass alike.
import * as tf from "@tensorflow/tfjs";
import { assertBoolean, assertInteger, assertKnownOptions, assertRank } from "../validate";

export interface CumsumOptions {
  /** Sum strictly before each position (the first is 0). Default false. */
  exclusive?: boolean;
  /** Sum from the end of the axis. Default false. */
  reverse?: boolean;
}

function scan(x: tf.Tensor, axis: number, exclusive: boolean, reverse: boolean): tf.Tensor {
  if (!reverse) return tf.cumsum(x, axis, exclusive, false);
  return tf.reverse(tf.cumsum(tf.reverse(x, axis), axis, exclusive, false), axis);
}

/** Cumulative sum of `x` along `axis` (negative counts from the end), as float32. */
export function cumsum(x: tf.Tensor, axis = 0, options: CumsumOptions = {}): tf.Tensor {
  const fn = "cumsum";
  assertRank(fn, "x", x, [1, 2, 3, 4, 5, 6]);
  assertKnownOptions(fn, options, ["exclusive", "reverse"]);
  assertInteger(fn, "axis", axis, { min: -x.rank, max: x.rank - 1 });
  const exclusive = options.exclusive ?? false;
  const reverse = options.reverse ?? false;
  assertBoolean(fn, "exclusive", exclusive);
  assertBoolean(fn, "reverse", reverse);
  const ax = axis < 0 ? axis + x.rank : axis;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: scan(args[0] as tf.Tensor, ax, exclusive, reverse),
    // Each output sums the inputs on one side of it, so each input's gradient sums dy on the other side.
    gradFunc: (dy: tf.Tensor | tf.Tensor[]) => scan(dy as tf.Tensor, ax, exclusive, !reverse),
  }));
  return op(x.dtype === "float32" ? x : tf.cast(x, "float32"));
}
