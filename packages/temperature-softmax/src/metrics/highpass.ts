// σ_a: how much of the high-frequency part HC[X] = X − mean token an attention matrix lets through.
// HC[AX] = HC[A]·HC[X] for a row-stochastic A, so ‖HC[AX]‖ ≤ σ_a‖HC[X]‖ with σ_a = σ_max((I − 11ᵀ/n)A).
// A small σ_a (long inputs, flat attention) means strong low-pass filtering: length collapse.
import type * as tf from "@tensorflow/tfjs";
import { OptionError, ShapeError, assertBoolean, assertKnownOptions } from "@attnkit/core";
import { readMatrices } from "./host";
import { largestSingularValue } from "./largest-singular-value";

export interface AttentionHighpassGainOptions {
  /** σ_max((I − P)A(I − P)) with P = 11ᵀ/n: the exact gain on HC[X], ≤ σ_a (default false). */
  tight?: boolean;
}

function gain(a: Float64Array, n: number, tight: boolean): number {
  // (I − P)A: subtract each column's mean.
  const m = Float64Array.from(a);
  for (let j = 0; j < n; j++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += a[i * n + j]! / n;
    for (let i = 0; i < n; i++) m[i * n + j] = m[i * n + j]! - mean;
  }
  if (tight) {
    // ·(I − P): subtract each row's mean.
    for (let i = 0; i < n; i++) {
      let mean = 0;
      for (let j = 0; j < n; j++) mean += m[i * n + j]! / n;
      for (let j = 0; j < n; j++) m[i * n + j] = m[i * n + j]! - mean;
    }
  }
  return largestSingularValue(m, n, n);
}

/**
 * σ_a = σ_max((I − 11ᵀ/n)A) of an attention matrix `attn` `[n, n]` (a number) or `[b, n, n]` (one per
 * matrix). Uniform attention gives 0, the identity 1. A tensor is read with `dataSync()`; on WebGPU in
 * Node pass `await attn.array()`.
 */
export function attentionHighpassGain(attn: tf.Tensor | number[][] | number[][][], opts: AttentionHighpassGainOptions = {}): number | number[] {
  const fn = "attentionHighpassGain";
  if (opts === null || typeof opts !== "object") throw new OptionError(`${fn}: opts must be an object, got ${String(opts)}`);
  assertKnownOptions(fn, opts, ["tight"]);
  if (opts.tight !== undefined) assertBoolean(fn, "tight", opts.tight);
  const { mats, rows, cols, batched } = readMatrices(fn, "attn", attn, true);
  if (rows !== cols) throw new ShapeError(`${fn}: attn must be square [n, n] or [b, n, n], got ${rows} × ${cols} matrices`);
  const values = mats.map((m) => gain(m, rows, opts.tight === true));
  return batched ? values : values[0]!;
}
