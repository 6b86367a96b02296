// Scalars that may be given once or per head (τ, SSMax's s): checked here, turned into something that
// broadcasts against `[b, h, s, d]`.
import * as tf from "@tensorflow/tfjs";
import { OptionError, assertNumber, shapeString } from "@attnkit/core";

/** A value given once, per head as numbers, or as a (possibly trainable) tensor `[]`, `[1]` or `[heads]`. */
export type PerHead = number | number[] | tf.Tensor;

export interface PerHeadRange {
  /** Values must be > 0 (a temperature). */
  positive?: boolean;
}

/**
 * Checks a per-head value and returns either the plain number or a `[1, heads, 1, 1]` tensor (caller
 * disposes it: call inside a tidy). Tensor values cannot be checked without a synchronous read (which
 * WebGPU lacks), so only their shape is checked.
 */
export function perHeadValue(fn: string, arg: string, value: unknown, heads: number, range: PerHeadRange = {}): number | tf.Tensor4D {
  const bounds = range.positive ? { min: 0, minExclusive: true } : {};
  if (typeof value === "number") {
    assertNumber(fn, arg, value, bounds);
    return value;
  }
  if (Array.isArray(value)) {
    if (value.length !== heads) {
      throw new OptionError(`${fn}: ${arg} must be a number or one number per head (${heads}), got an array of length ${value.length}`);
    }
    value.forEach((x, i) => assertNumber(fn, `${arg}[${i}]`, x, bounds));
    return tf.tensor4d(value, [1, heads, 1, 1], "float32");
  }
  if (value instanceof tf.Tensor) {
    if (value.isDisposed) throw new OptionError(`${fn}: ${arg} has already been disposed`);
    if (value.dtype !== "float32") throw new OptionError(`${fn}: ${arg} must be a float32 tensor, got ${value.dtype}`);
    const n = value.size;
    if (value.rank > 1 || (n !== 1 && n !== heads)) {
      throw new OptionError(`${fn}: ${arg} tensor must have shape [], [1] or [${heads}] (one per head), got ${shapeString(value.shape)}`);
    }
    return value.reshape([1, n, 1, 1]) as tf.Tensor4D;
  }
  throw new OptionError(`${fn}: ${arg} must be a number, a number per head or a tensor, got ${value === null ? "null" : typeof value}`);
}
