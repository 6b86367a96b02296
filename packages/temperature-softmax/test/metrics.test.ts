import { describe, expect, it } from "vitest";
import { OptionError, ShapeError } from "@attnkit/core";
import { expectClose, fc, loadFixture, randomValues, toNumbers, type FixtureTensor } from "@attnkit/testing";
import { attentionHighpassGain, dcEnergyRatio, lengthBucketCosine, meanPairwiseCosine } from "../src/index";
import { referenceLargestSingularValue } from "../src/reference";

// Host arrays need no backend: this is the path WebGPU users in Node take (`await t.array()`).
interface Fixture {
  inputs: Record<string, FixtureTensor>;
  options: { edges: number[] };
  expected: Record<string, FixtureTensor>;
  tolerance: { atol: number; rtol: number };
}

function nest(t: FixtureTensor): number[][] | number[][][] {
  const flat = toNumbers(t);
  const [a, b, c] = t.shape as [number, number, number?];
  if (c === undefined) return Array.from({ length: a }, (_, i) => flat.slice(i * b, (i + 1) * b));
  return Array.from({ length: a }, (_, i) => Array.from({ length: b }, (_, j) => flat.slice((i * b + j) * c, (i * b + j + 1) * c)));
}

function randomMatrix(rows: number, cols: number, seed: number): number[][] {
  const v = randomValues(rows * cols, seed);
  return Array.from({ length: rows }, (_, i) => Array.from(v.slice(i * cols, (i + 1) * cols)));
}

/** A random row-stochastic matrix (a softmax of random logits at temperature t). */
function randomAttention(n: number, seed: number, t = 0.3): number[][] {
  return randomMatrix(n, n, seed).map((row) => {
    const e = row.map((x) => Math.exp(x / t));
    const z = e.reduce((a, b) => a + b, 0);
    return e.map((x) => x / z);
  });
}

function bruteCosine(rows: number[][]): number {
  let sum = 0;
  let pairs = 0;
  for (let i = 0; i < rows.length; i++)
    for (let j = 0; j < rows.length; j++) {
      if (i === j) continue;
      const dot = rows[i]!.reduce((a, x, d) => a + x * rows[j]![d]!, 0);
      const ni = Math.hypot(...rows[i]!);
      const nj = Math.hypot(...rows[j]!);
      sum += dot / (ni * nj);
      pairs++;
    }
  return sum / pairs;
}

describe("collapse metrics on host arrays", () => {
  it("match fixture collapse_metrics_0", async () => {
    const f = loadFixture<Fixture>(new URL("./fixtures/collapse_metrics_0.json", import.meta.url));
    const emb = nest(f.inputs.emb!) as number[][];
    const tol = f.tolerance;
    await expectClose(meanPairwiseCosine(emb), toNumbers(f.expected.mean_pairwise_cosine!), tol);
    await expectClose(lengthBucketCosine(emb, toNumbers(f.inputs.lengths!), f.options.edges) as number[], toNumbers(f.expected.length_bucket_cosine!), tol);
    const x = nest(f.inputs.x!) as number[][][];
    const attn = nest(f.inputs.attn!) as number[][][];
    await expectClose(dcEnergyRatio(x) as number[], toNumbers(f.expected.dc_energy_ratio!), tol);
    await expectClose(attentionHighpassGain(attn) as number[], toNumbers(f.expected.attention_highpass_gain!), tol);
    await expectClose(attentionHighpassGain(attn, { tight: true }) as number[], toNumbers(f.expected.attention_highpass_gain_tight!), tol);
    // Unbatched inputs give plain numbers equal to the batch entries.
    expect(dcEnergyRatio(x[1]!)).toBeCloseTo((dcEnergyRatio(x) as number[])[1]!, 12);
    expect(attentionHighpassGain(attn[0]!)).toBeCloseTo((attentionHighpassGain(attn) as number[])[0]!, 12);
  });

  it("meanPairwiseCosine and lengthBucketCosine equal a brute-force double loop", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 20 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 1000 }), (n, d, seed) => {
        const emb = randomMatrix(n, d, seed);
        expect(meanPairwiseCosine(emb)).toBeCloseTo(bruteCosine(emb), 10);
        const lengths = Array.from(randomValues(n, seed + 1), (x) => Math.floor((x + 1) * 50));
        const edges = [0, 30, 60, 101];
        const buckets = lengthBucketCosine(emb, lengths, edges);
        expect(buckets.length).toBe(3);
        buckets.forEach((value, b) => {
          const members = emb.filter((_, i) => lengths[i]! >= edges[b]! && lengths[i]! < edges[b + 1]!);
          if (members.length < 2) expect(value).toBeNull();
          else expect(value).toBeCloseTo(bruteCosine(members), 10);
        });
      }),
      { numRuns: 30, seed: 9 },
    );
  });

  it("meanPairwiseCosine: identical rows give 1, a zero row counts as cosine 0", () => {
    expect(meanPairwiseCosine([[1, 2], [2, 4], [0.5, 1]])).toBeCloseTo(1, 12);
    expect(meanPairwiseCosine([[1, 0], [0, 0]])).toBe(0);
    expect(lengthBucketCosine([[1, 0], [1, 0]], [5, 500], [0, 10, 20])).toEqual([null, null]);
    expect(lengthBucketCosine([[1, 0], [1, 0], [0, 1]], [5, 500, 7], [-Infinity, 10, Infinity])).toEqual([0, null]);
  });

  it("dcEnergyRatio: 1 for identical tokens, 0 for zero-mean tokens, 0 for all-zero input", () => {
    expect(dcEnergyRatio([[1, 2, 3], [1, 2, 3]])).toBeCloseTo(1, 12);
    expect(dcEnergyRatio([[1, -2], [-1, 2]])).toBe(0);
    expect(dcEnergyRatio([[0, 0]])).toBe(0);
    const x = randomMatrix(7, 5, 3);
    const mean = [0, 1, 2, 3, 4].map((j) => x.reduce((a, r) => a + r[j]!, 0) / 7);
    const dc = 7 * mean.reduce((a, m) => a + m * m, 0);
    const total = x.flat().reduce((a, v) => a + v * v, 0);
    expect(dcEnergyRatio(x)).toBeCloseTo(dc / total, 12);
  });

  it("attentionHighpassGain: uniform gives 0, identity and permutations give 1, tight ≤ plain", () => {
    const n = 6;
    const uniform = Array.from({ length: n }, () => new Array<number>(n).fill(1 / n));
    const eye = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
    const perm = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (j === (i + 2) % n ? 1 : 0)));
    expect(attentionHighpassGain(uniform)).toBeCloseTo(0, 10);
    expect(attentionHighpassGain(eye)).toBeCloseTo(1, 10);
    expect(attentionHighpassGain(perm)).toBeCloseTo(1, 10);
    expect(attentionHighpassGain(perm, { tight: true })).toBeCloseTo(1, 10);
    expect(attentionHighpassGain([[1]])).toBe(0);
    for (let seed = 1; seed < 6; seed++) {
      const a = randomAttention(9, seed);
      expect(attentionHighpassGain(a, { tight: true }) as number).toBeLessThanOrEqual((attentionHighpassGain(a) as number) + 1e-12);
    }
  });

  it("attentionHighpassGain equals an independent Jacobi SVD on random attention matrices (incl. repeated σ)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 24 }), fc.integer({ min: 1, max: 1000 }), fc.double({ min: 0.05, max: 3, noNaN: true }), (n, seed, t) => {
        const a = randomAttention(n, seed, t);
        const centred = a.map((row) => row.map((x, j) => x - a.reduce((s, r) => s + r[j]!, 0) / n));
        const want = referenceLargestSingularValue(centred.flat(), n, n);
        expect(Math.abs((attentionHighpassGain(a) as number) - want)).toBeLessThan(1e-9 * Math.max(1, want));
      }),
      { numRuns: 40, seed: 11 },
    );
    // Block-diagonal copies: every singular value is repeated.
    const block = randomAttention(4, 77);
    const twice = [...block.map((r) => [...r.map((x) => x / 2), ...r.map((x) => x / 2)]), ...block.map((r) => [...r.map((x) => x / 2), ...r.map((x) => x / 2)])];
    const centred = twice.map((row) => row.map((x, j) => x - twice.reduce((s, r) => s + r[j]!, 0) / 8));
    expect(attentionHighpassGain(twice)).toBeCloseTo(referenceLargestSingularValue(centred.flat(), 8, 8), 9);
  });

  it("bad input throws ShapeError or OptionError naming the function and argument", () => {
    const cases: [() => unknown, typeof ShapeError | typeof OptionError, RegExp][] = [
      [() => meanPairwiseCosine([[1, 2]]), ShapeError, /meanPairwiseCosine: emb must have at least 2 rows/],
      [() => meanPairwiseCosine([[1, 2], [3]]), ShapeError, /emb must be rectangular/],
      [() => meanPairwiseCosine([[1, NaN], [3, 4]]), ShapeError, /finite/],
      [() => meanPairwiseCosine([[[1]]] as never), ShapeError, /rank 2/],
      [() => meanPairwiseCosine("x" as never), ShapeError, /emb must be a tf.Tensor or a nested number array/],
      [() => lengthBucketCosine([[1], [2]], [1], [0, 5]), ShapeError, /lengthBucketCosine: lengths/],
      [() => lengthBucketCosine([[1], [2]], [1, 2], [5]), OptionError, /edges/],
      [() => lengthBucketCosine([[1], [2]], [1, 2], [5, 5]), OptionError, /strictly ascending/],
      [() => lengthBucketCosine([[1], [2]], [1, 2], [0, NaN]), OptionError, /edges\[1\] must be a number/],
      [() => dcEnergyRatio([1, 2] as never), ShapeError, /dcEnergyRatio: x must be a nested array of rank 2 or 3/],
      [() => attentionHighpassGain([[1, 0, 0], [0, 1, 0]]), ShapeError, /attentionHighpassGain: attn must be square/],
      [() => attentionHighpassGain([[1]], { tight: 1 } as never), OptionError, /tight/],
      [() => attentionHighpassGain([[1]], { tigth: true } as never), OptionError, /unknown option 'tigth'/],
    ];
    for (const [call, cls, message] of cases) {
      expect(call).toThrow(cls);
      expect(call).toThrow(message);
    }
  });
});
