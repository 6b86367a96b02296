// Mulberry32, a tiny 32-bit generator that every language reproduces bit for bit, and deterministic
// weight initialisation on top of it. TF.js initialisers built without a seed draw their seed from
// Math.random; building a model with Math.random replaced by a seeded stream makes every initial weight a
// function of that seed.
import { assertInteger } from "./validate";

/** A draw in [0, 1) (a uint32 / 2^32), with the raw uint32 and the generator state alongside. */
export interface Mulberry32 {
  (): number;
  /** The next raw uint32 draw (the same stream as calling the function). */
  uint32(): number;
  /** The internal state as an int32; pass it to `mulberry32` to continue the stream exactly. */
  readonly state: number;
}

const SEED_RANGE = { min: -2147483648, max: 4294967295 };

/** Accepts any int32 or uint32 seed (they wrap to the same 32 bits, as `seed | 0` does). */
export function checkSeed(fn: string, arg: string, seed: unknown): asserts seed is number {
  assertInteger(fn, arg, seed, SEED_RANGE);
}

/**
 * `mulberry32(seed)` → a function returning uint32 draws / 2^32. The same stream as the portable
 * generator of the MQAR fixtures (research/hybrid.md §8).
 */
export function mulberry32(seed: number): Mulberry32 {
  checkSeed("mulberry32", "seed", seed);
  let a = seed | 0;
  const uint32 = (): number => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
  const next = (() => uint32() / 4294967296) as Mulberry32;
  Object.defineProperty(next, "uint32", { value: uint32 });
  Object.defineProperty(next, "state", { get: () => a });
  return next;
}

/**
 * Runs `build` (typically: construct a model or layer and build its weights) with `Math.random` replaced
 * by `mulberry32(seed)`, so every unseeded initialiser draws the same weights for the same seed.
 * Math.random is restored afterwards, also when `build` throws. Synchronous builds only.
 */
export function withSeededRandom<T>(seed: number, build: () => T): T {
  checkSeed("withSeededRandom", "seed", seed);
  const original = Math.random;
  Math.random = mulberry32(seed);
  try {
    return build();
  } finally {
    Math.random = original;
  }
}
