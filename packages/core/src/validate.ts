// Argument checks shared by every package. Messages follow one pattern:
// `${fn}: ${arg} must be ${expected}, got ${given}`.
import * as tf from "@tensorflow/tfjs";
import { OptionError, ShapeError } from "./errors";

const describe = (value: unknown): string => {
  if (value instanceof tf.Tensor) return `a ${value.dtype} tensor of shape [${value.shape.join(", ")}]`;
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (typeof value === "string") return JSON.stringify(value);
  return String(value);
};

export const shapeString = (shape: readonly number[]): string => `[${shape.join(", ")}]`;

export function assertTensor(fn: string, arg: string, value: unknown): asserts value is tf.Tensor {
  if (!(value instanceof tf.Tensor)) throw new ShapeError(`${fn}: ${arg} must be a tf.Tensor, got ${describe(value)}`);
  if (value.isDisposed) throw new ShapeError(`${fn}: ${arg} has already been disposed`);
}

export function assertRank(fn: string, arg: string, value: unknown, rank: number | readonly number[]): asserts value is tf.Tensor {
  assertTensor(fn, arg, value);
  const ranks = typeof rank === "number" ? [rank] : rank;
  if (!ranks.includes(value.rank)) {
    throw new ShapeError(`${fn}: ${arg} must have rank ${ranks.join(" or ")}, got ${describe(value)}`);
  }
}

export function assertFloat(fn: string, arg: string, value: tf.Tensor): void {
  if (value.dtype !== "float32") throw new ShapeError(`${fn}: ${arg} must be float32, got ${describe(value)}`);
}

export function assertShape(fn: string, arg: string, value: tf.Tensor, expected: readonly (number | null)[]): void {
  const ok = value.rank === expected.length && expected.every((d, i) => d === null || d === value.shape[i]);
  if (!ok) {
    const want = `[${expected.map((d) => (d === null ? "*" : d)).join(", ")}]`;
    throw new ShapeError(`${fn}: ${arg} must have shape ${want}, got ${describe(value)}`);
  }
}

/** Checks that `shape` broadcasts to `target` (numpy rules, right-aligned). */
export function assertBroadcastable(fn: string, arg: string, value: tf.Tensor, target: readonly number[]): void {
  const s = value.shape;
  const ok = s.length <= target.length && s.every((d, i) => d === 1 || d === target[target.length - s.length + i]);
  if (!ok) throw new ShapeError(`${fn}: ${arg} must broadcast to ${shapeString(target)}, got ${describe(value)}`);
}

export function assertInteger(fn: string, arg: string, value: unknown, opts: { min?: number; max?: number } = {}): asserts value is number {
  const { min = -Infinity, max = Infinity } = opts;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    const range = min === -Infinity ? (max === Infinity ? "" : ` ≤ ${max}`) : max === Infinity ? ` ≥ ${min}` : ` in [${min}, ${max}]`;
    throw new OptionError(`${fn}: ${arg} must be an integer${range}, got ${describe(value)}`);
  }
}

export interface NumberRange {
  min?: number;
  max?: number;
  /** Exclude `min` itself (for "> 0"). */
  minExclusive?: boolean;
  maxExclusive?: boolean;
}

export function assertNumber(fn: string, arg: string, value: unknown, range: NumberRange = {}): asserts value is number {
  const { min = -Infinity, max = Infinity, minExclusive = false, maxExclusive = false } = range;
  const ok =
    typeof value === "number" &&
    Number.isFinite(value) &&
    (minExclusive ? value > min : value >= min) &&
    (maxExclusive ? value < max : value <= max);
  if (!ok) {
    const lo = min === -Infinity ? "" : `${minExclusive ? ">" : "≥"} ${min}`;
    const hi = max === Infinity ? "" : `${maxExclusive ? "<" : "≤"} ${max}`;
    const range = [lo, hi].filter(Boolean).join(" and ");
    throw new OptionError(`${fn}: ${arg} must be a finite number${range ? ` ${range}` : ""}, got ${describe(value)}`);
  }
}

export function assertOneOf<T extends string>(fn: string, arg: string, value: unknown, allowed: readonly T[]): asserts value is T {
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    throw new OptionError(`${fn}: ${arg} must be one of ${allowed.map((a) => `'${a}'`).join(", ")}, got ${describe(value)}`);
  }
}

export function assertBoolean(fn: string, arg: string, value: unknown): asserts value is boolean {
  if (typeof value !== "boolean") throw new OptionError(`${fn}: ${arg} must be true or false, got ${describe(value)}`);
}

/** Rejects option keys the function does not know, so a typo never passes silently. */
export function assertKnownOptions(fn: string, options: object | undefined, known: readonly string[]): void {
  if (options === undefined || options === null) return;
  if (typeof options !== "object") throw new OptionError(`${fn}: options must be an object, got ${describe(options)}`);
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new OptionError(`${fn}: unknown option '${key}'; known options are ${known.map((k) => `'${k}'`).join(", ")}`);
    }
  }
}

/** Resolves `scale` (null/undefined → default) and checks it. */
export function resolveScale(fn: string, scale: number | null | undefined, fallback: number): number {
  if (scale === undefined || scale === null) return fallback;
  assertNumber(fn, "scale", scale, { min: 0, minExclusive: true });
  return scale;
}

export interface AttentionDims {
  batch: number;
  heads: number;
  seqQ: number;
  seqK: number;
  dim: number;
  dimV: number;
}

/** Checks `q, k: [b, h, s, d]`, `v: [b, h, sk, dv]` and returns the sizes. */
export function checkAttentionInputs(fn: string, q: unknown, k: unknown, v: unknown): AttentionDims {
  assertRank(fn, "q", q, 4);
  assertRank(fn, "k", k, 4);
  assertRank(fn, "v", v, 4);
  for (const [name, t] of [["q", q], ["k", k], ["v", v]] as const) assertFloat(fn, name, t);
  const [batch, heads, seqQ, dim] = q.shape as [number, number, number, number];
  const [kb, kh, seqK, kd] = k.shape as [number, number, number, number];
  const [vb, vh, vs, dimV] = v.shape as [number, number, number, number];
  if (kb !== batch || kh !== heads || kd !== dim) {
    throw new ShapeError(`${fn}: k must have shape [${batch}, ${heads}, *, ${dim}] to match q ${shapeString(q.shape)}, got ${shapeString(k.shape)}`);
  }
  if (vb !== batch || vh !== heads || vs !== seqK) {
    throw new ShapeError(`${fn}: v must have shape [${batch}, ${heads}, ${seqK}, *] to match k ${shapeString(k.shape)}, got ${shapeString(v.shape)}`);
  }
  if (dim === 0 || dimV === 0) throw new ShapeError(`${fn}: q, k and v must have a non-zero last dimension, got dim ${dim} and dimV ${dimV}`);
  return { batch, heads, seqQ, seqK, dim, dimV };
}
