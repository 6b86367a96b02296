// Recurrent state of the linear forms (key-first, SPEC: s [b, h, dim, dimV], z [b, h, dim]) and its checks.
import * as tf from "@tensorflow/tfjs";
import { OptionError, ShapeError, assertInteger, assertOneOf, assertRank, shapeString } from "@attnkit/core";

/** A recurrent state: `s` [b, h, dim, dimV] (key-first, o = qᵀS); `z` [b, h, dim] is the normaliser. */
export interface LinearState {
  s: tf.Tensor;
  z?: tf.Tensor;
}

/** What `returnState: true` gives back. */
export interface OutputWithState {
  output: tf.Tensor;
  state: LinearState;
}

export type LinearMode = "parallel" | "recurrent" | "chunk";

export function checkMode<T extends string>(fn: string, mode: unknown, allowed: readonly T[], fallback: T): T {
  const m = mode ?? fallback;
  assertOneOf(fn, "mode", m, allowed);
  return m;
}

export function checkChunkSize(fn: string, chunkSize: unknown): number {
  const c = chunkSize ?? 64;
  assertInteger(fn, "chunkSize", c, { min: 1 });
  return c;
}

/** Checks `initialState` against [b, h, dim, dimV] (and `z` against [b, h, dim] when `needZ`). */
export function checkState(fn: string, state: unknown, dims: { batch: number; heads: number; dim: number; dimV: number }, needZ: boolean): LinearState | null {
  if (state === undefined || state === null) return null;
  if (typeof state !== "object" || !((state as LinearState).s instanceof tf.Tensor)) {
    throw new OptionError(`${fn}: initialState must be an object { s, z? } with s a tf.Tensor, got ${typeof state}`);
  }
  const { s, z } = state as LinearState;
  const want = [dims.batch, dims.heads, dims.dim, dims.dimV];
  assertRank(fn, "initialState.s", s, 4);
  if (s.shape.some((d, i) => d !== want[i])) throw new ShapeError(`${fn}: initialState.s must have shape ${shapeString(want)}, got ${shapeString(s.shape)}`);
  if (needZ) {
    if (!(z instanceof tf.Tensor)) throw new OptionError(`${fn}: initialState.z [${dims.batch}, ${dims.heads}, ${dims.dim}] is required when normalize is true`);
    const wz = want.slice(0, 3);
    assertRank(fn, "initialState.z", z, 3);
    if (z.shape.some((d, i) => d !== wz[i])) throw new ShapeError(`${fn}: initialState.z must have shape ${shapeString(wz)}, got ${shapeString(z.shape)}`);
  }
  return needZ ? { s, z: z! } : { s };
}
