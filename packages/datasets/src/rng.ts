// Seeded draws for the tasks (MQAR, passkey prompts, shuffles) on core's Mulberry32, a generator every
// language reproduces bit for bit, so a seeded task gives the same data in JS, Python or anywhere else.
import { assertNumber, checkSeed, mulberry32, OptionError, type Mulberry32 } from "@attnkit/core";

export { checkSeed, mulberry32, type Mulberry32 };

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
