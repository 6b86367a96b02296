// Mulberry32: a tiny 32-bit generator that every language reproduces bit for bit, so a seeded task
// (MQAR, passkey prompts, shuffles) gives the same data in JS, Python or anywhere else.
import { assertInteger, assertNumber, OptionError } from "@attnkit/core";

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
 * Seeded draws on top of Mulberry32 with exactly the draw order of the fixtures' reference JS:
 * `randint`, partial Fisher–Yates `sample`, and weighted sampling without replacement.
 */
export class Rng {
  readonly random: Mulberry32;

  constructor(seed: number) {
    this.random = mulberry32(seed);
  }

  /** Uniform integer in [0, n). */
  randint(n: number): number {
    return Math.floor(this.random() * n);
  }

  /** k distinct items of `population` in draw order (partial Fisher–Yates, one draw per item). */
  sample<T>(population: readonly T[], k: number): T[] {
    const a = population.slice();
    const n = a.length;
    if (k > n) throw new OptionError(`Rng.sample: k must be ≤ the population size ${n}, got ${k}`);
    for (let i = 0; i < k; i++) {
      const j = i + this.randint(n - i);
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a.slice(0, k);
  }

  /**
   * k distinct indices drawn without replacement with probability ∝ `weights` among those left
   * (un-normalised weights; one draw per pick, linear scan, as the reference JS does).
   */
  weighted(weights: readonly number[], k: number): number[] {
    for (const w of weights) assertNumber("Rng.weighted", "weights", w, { min: 0 });
    if (k > weights.length) throw new OptionError(`Rng.weighted: k must be ≤ the number of weights ${weights.length}, got ${k}`);
    const alive = weights.map(() => true);
    const out: number[] = [];
    for (let r = 0; r < k; r++) {
      let total = 0;
      for (let i = 0; i < weights.length; i++) if (alive[i]) total += weights[i]!;
      const u = this.random() * total;
      let acc = 0;
      let pick = -1;
      for (let i = 0; i < weights.length; i++) {
        if (!alive[i]) continue;
        acc += weights[i]!;
        pick = i;
        if (acc > u) break;
      }
      alive[pick] = false;
      out.push(pick);
    }
    return out;
  }

  /** A uniformly random permutation of [0, n) (Fisher–Yates via `sample`). */
  permutation(n: number): number[] {
    return this.sample(Array.from({ length: n }, (_, i) => i), n);
  }
}
