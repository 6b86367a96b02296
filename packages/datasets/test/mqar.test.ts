import { describe, expect, it } from "vitest";
import { fc, loadFixture, toNumbers, type FixtureTensor } from "@attnkit/testing";
import { OptionError } from "@attnkit/core";
import { IGNORE_INDEX, mqar, mulberry32, Rng } from "../src/index";

interface Case {
  name: string;
  function: string;
  options: Record<string, number | boolean | number[] | string>;
  expected: Record<string, FixtureTensor>;
}
const fixture = loadFixture<{ cases: Case[] }>(new URL("./fixtures/mqar.json", import.meta.url));

describe("mulberry32", () => {
  it("reproduces the fixture's raw uint32 outputs bit-exactly", () => {
    const c = fixture.cases.find((x) => x.function === "mulberry32")!;
    const seeds = c.options.seeds as number[];
    const draws = c.options.draws as number[];
    const got: number[] = [];
    const gotRaw: number[] = [];
    seeds.forEach((seed, i) => {
      const r = mulberry32(seed);
      const raw = mulberry32(seed);
      for (let j = 0; j < draws[i]!; j++) {
        got.push(r() * 4294967296);
        gotRaw.push(raw.uint32());
      }
    });
    expect(got).toEqual(toNumbers(c.expected.u32!));
    expect(gotRaw).toEqual(toNumbers(c.expected.u32!));
  });

  it("returns draws in [0, 1), repeats under a seed, and can continue from its state", () => {
    const a = mulberry32(7);
    const first = Array.from({ length: 1000 }, () => a());
    expect(first.every((x) => x >= 0 && x < 1)).toBe(true);
    const b = mulberry32(7);
    expect(Array.from({ length: 1000 }, () => b())).toEqual(first);
    const c = mulberry32(7);
    for (let i = 0; i < 10; i++) c();
    const resumed = mulberry32(c.state);
    expect(Array.from({ length: 5 }, () => resumed())).toEqual(first.slice(10, 15));
    // uint32 and int32 spellings of the same 32 bits are the same seed.
    expect(mulberry32(4294967295)()).toBe(mulberry32(-1)());
    expect(mulberry32(8)()).not.toBe(mulberry32(7)());
  });

  it("rejects seeds that are not 32-bit integers", () => {
    expect(() => mulberry32(1.5)).toThrow(OptionError);
    expect(() => mulberry32(2 ** 32)).toThrow(/mulberry32: seed must be an integer/);
    expect(() => mulberry32("1" as unknown as number)).toThrow(OptionError);
  });
});

describe("Rng", () => {
  it("samples distinct items and permutations, weighted picks distinct indices", () => {
    const r = new Rng(3);
    const s = r.sample([10, 11, 12, 13, 14], 3);
    expect(new Set(s).size).toBe(3);
    expect(s.every((x) => x >= 10 && x <= 14)).toBe(true);
    expect([...r.permutation(9)].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    const w = r.weighted([1, 0.5, 2, 0.25], 4);
    expect([...w].sort()).toEqual([0, 1, 2, 3]);
    // A zero weight is never picked while a positive one is left.
    for (let i = 0; i < 20; i++) expect(r.weighted([0, 1, 0], 1)).toEqual([1]);
    expect(() => r.sample([1, 2], 3)).toThrow(OptionError);
    expect(() => r.weighted([1, -1], 1)).toThrow(/weights must be a finite number ≥ 0/);
  });
});

describe("mqar", () => {
  const cases = fixture.cases.filter((c) => c.function === "mqar_generate");

  it("has the three portable fixture cases", () => expect(cases.length).toBe(3));

  for (const c of cases) {
    it(`reproduces ${c.name} bit-exactly`, () => {
      const o = c.options;
      expect(o.rng).toBe("portable");
      const got = mqar({
        seed: o.seed as number,
        vocabSize: o.vocab_size as number,
        numKvPairs: o.num_kv_pairs as number,
        seqLen: o.seq_len as number,
        numExamples: o.num_examples as number,
        powerA: o.power_a as number,
        randomNonQueries: o.random_non_queries as boolean,
        numPasses: o.num_passes as number,
      });
      const [n, t] = c.expected.inputs!.shape;
      expect(got.inputs.length).toBe(n);
      expect(got.inputs.every((r) => r.length === t)).toBe(true);
      expect(got.inputs.flat()).toEqual(toNumbers(c.expected.inputs!));
      expect(got.labels.flat()).toEqual(toNumbers(c.expected.labels!));
    });
  }

  it("uses the SPEC defaults powerA 0.01 and randomNonQueries true", () => {
    const base = { seed: 1, vocabSize: 8192, numKvPairs: 4, seqLen: 64, numExamples: 2 };
    expect(mqar(base)).toEqual(mqar({ ...base, powerA: 0.01, randomNonQueries: true, numPasses: 1 }));
  });

  it("is deterministic under a seed and differs across seeds", () => {
    const o = { vocabSize: 300, numKvPairs: 6, seqLen: 40, numExamples: 5 };
    expect(mqar({ seed: 9, ...o })).toEqual(mqar({ seed: 9, ...o }));
    expect(mqar({ seed: 9, ...o }).inputs).not.toEqual(mqar({ seed: 10, ...o }).inputs);
  });

  it("builds valid tasks for any valid options: context, one query per key, labels −100 elsewhere", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 10 }),
        fc.integer({ min: 1, max: 200 }),
        fc.boolean(),
        fc.constantFrom(0.01, 0.5, 1, 2),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        (p, passes, extra, vocabExtra, random, powerA, seed) => {
          const seqLen = 2 * p * passes + 2 * p + 2 * extra;
          const vocabSize = Math.max(seqLen + 1, 2 * p + 3) + vocabExtra;
          const { inputs, labels } = mqar({ seed, vocabSize, numKvPairs: p, seqLen, numExamples: 3, powerA, randomNonQueries: random, numPasses: passes });
          const half = Math.floor(vocabSize / 2);
          const context = 2 * p * passes;
          inputs.forEach((x, e) => {
            const y = labels[e]!;
            expect(x.length).toBe(seqLen);
            expect(x.every((v) => Number.isInteger(v) && v >= 0 && v < vocabSize)).toBe(true);
            const keys = x.slice(0, 2 * p).filter((_, i) => i % 2 === 0);
            const vals = x.slice(0, 2 * p).filter((_, i) => i % 2 === 1);
            expect(new Set(keys).size).toBe(p);
            expect(new Set(vals).size).toBe(p);
            expect(keys.every((k) => k >= 1 && k < half)).toBe(true);
            expect(vals.every((v) => v >= half && v < vocabSize)).toBe(true);
            // Every pass repeats the first block.
            for (let q = 1; q < passes; q++) expect(x.slice(2 * p * q, 2 * p * (q + 1))).toEqual(x.slice(0, 2 * p));
            const queried = y.flatMap((v, t) => (v === IGNORE_INDEX ? [] : [t]));
            expect(queried.length).toBe(p);
            for (const t of queried) {
              expect(t).toBeGreaterThanOrEqual(context);
              expect((t - context) % 2).toBe(0);
              const k = keys.indexOf(x[t]!);
              expect(k).toBeGreaterThanOrEqual(0);
              expect(y[t]).toBe(vals[k]);
            }
            expect(new Set(queried.map((t) => x[t])).size).toBe(p);
            if (!random) {
              const filler = x.filter((v, t) => t >= context && y[t] === IGNORE_INDEX);
              expect(filler.every((v) => v === 0)).toBe(true);
            }
          });
        },
      ),
      { numRuns: 60, seed: 11 },
    );
  });

  it("skews the gaps toward small values with powerA 0.01", () => {
    const { labels } = mqar({ seed: 4, vocabSize: 8192, numKvPairs: 4, seqLen: 256, numExamples: 200, randomNonQueries: false });
    const gaps = labels.flatMap((y) => y.flatMap((v, t) => (v === IGNORE_INDEX ? [] : [(t - 8) / 2])));
    const space = (256 - 8) / 2;
    const early = gaps.filter((g) => g < space / 4).length / gaps.length;
    expect(early).toBeGreaterThan(0.4);
    const uniform = mqar({ seed: 4, vocabSize: 8192, numKvPairs: 4, seqLen: 256, numExamples: 200, randomNonQueries: false, powerA: 1 });
    const ugaps = uniform.labels.flatMap((y) => y.flatMap((v, t) => (v === IGNORE_INDEX ? [] : [(t - 8) / 2])));
    expect(ugaps.filter((g) => g < space / 4).length / ugaps.length).toBeLessThan(early);
  });

  it("gives empty arrays for zero examples", () => {
    expect(mqar({ seed: 0, vocabSize: 100, numKvPairs: 2, seqLen: 16, numExamples: 0 })).toEqual({ inputs: [], labels: [] });
  });

  it("rejects bad options with an OptionError naming the argument", () => {
    const ok = { seed: 0, vocabSize: 100, numKvPairs: 4, seqLen: 32, numExamples: 2 };
    expect(() => mqar({ ...ok, seqLen: 31 })).toThrow(/mqar: seqLen must be even/);
    expect(() => mqar({ ...ok, vocabSize: 32 })).toThrow(/mqar: vocabSize must be an integer ≥ 33/);
    expect(() => mqar({ ...ok, numKvPairs: 9 })).toThrow(/mqar: numKvPairs must be an integer in \[1, 8\]/);
    expect(() => mqar({ ...ok, numPasses: 2, numKvPairs: 6 })).toThrow(/numKvPairs/);
    expect(() => mqar({ ...ok, numExamples: -1 })).toThrow(/numExamples/);
    expect(() => mqar({ ...ok, powerA: 0 })).toThrow(/powerA must be a finite number > 0/);
    expect(() => mqar({ ...ok, randomNonQueries: 1 as unknown as boolean })).toThrow(/randomNonQueries must be true or false/);
    expect(() => mqar({ ...ok, seed: 0.5 })).toThrow(/mqar: seed/);
    expect(() => mqar({ ...ok, vocab: 10 } as never)).toThrow(/unknown option 'vocab'/);
    expect(() => mqar(undefined as never)).toThrow(OptionError);
    expect(() => mqar({ ...ok, seqLen: 64, vocabSize: 65, numKvPairs: 16 })).not.toThrow();
    // The smallest valid task: V = T + 1 and 4P = T still leave P distinct keys and values.
    const tight = mqar({ seed: 0, vocabSize: 9, numKvPairs: 2, seqLen: 8, numExamples: 3 });
    expect(tight.inputs.every((x) => x.slice(0, 4).every((v, i) => (i % 2 === 0 ? v >= 1 && v < 4 : v >= 4 && v < 9)))).toBe(true);
  });
});
