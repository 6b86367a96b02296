// Multi-query associative recall (Zoology, `zoology/data/multiquery_ar.py`) with the portable
// Mulberry32 draw order of research/hybrid.md §8, so a seed gives the same examples in every language.
import { assertBoolean, assertInteger, assertKnownOptions, assertNumber, OptionError } from "@attnkit/core";
import { checkSeed, Rng } from "./rng";

/** Label value at positions where nothing is predicted (PyTorch's cross-entropy `ignore_index`). */
export const IGNORE_INDEX = -100;

export interface MqarOptions {
  seed: number;
  vocabSize: number;
  numKvPairs: number;
  seqLen: number;
  numExamples: number;
  /** Gap distribution p(i) ∝ a·(i+1)^(a−1); small values put queries soon after the context. Default 0.01. */
  powerA?: number;
  /** Fill non-query positions with uniform random tokens in [0, vocabSize) instead of 0. Default true. */
  randomNonQueries?: boolean;
  /** Times the key–value block is repeated before the queries. Default 1. */
  numPasses?: number;
}

export interface MqarData {
  /** `[numExamples][seqLen]` token ids. */
  inputs: number[][];
  /** `[numExamples][seqLen]`: the value at each query-key position, −100 elsewhere. */
  labels: number[][];
}

const FN = "mqar";
const KNOWN = ["seed", "vocabSize", "numKvPairs", "seqLen", "numExamples", "powerA", "randomNonQueries", "numPasses"];

/**
 * Examples `k1 v1 … kP vP  …  ki … kj …`: keys from [1, V/2), values from [V/2, V), every key queried
 * once after the context at a gap drawn from a power law; the label at a query-key position is its value.
 */
export function mqar(options: MqarOptions): MqarData {
  if (options === null || typeof options !== "object") throw new OptionError(`${FN}: options must be an object, got ${String(options)}`);
  assertKnownOptions(FN, options, KNOWN);
  const { seed, vocabSize, numKvPairs, seqLen, numExamples, powerA = 0.01, randomNonQueries = true, numPasses = 1 } = options;
  checkSeed(FN, "seed", seed);
  assertInteger(FN, "seqLen", seqLen, { min: 2 });
  if (seqLen % 2 !== 0) throw new OptionError(`${FN}: seqLen must be even, got ${seqLen}`);
  assertInteger(FN, "vocabSize", vocabSize, { min: seqLen + 1 });
  assertInteger(FN, "numPasses", numPasses, { min: 1 });
  // Queries need room for P distinct gaps: 2P·passes + 2P ≤ T (Zoology asserts 4P ≤ T for one pass).
  assertInteger(FN, "numKvPairs", numKvPairs, { min: 1, max: Math.floor(seqLen / (2 * numPasses + 2)) });
  // vocabSize > seqLen ≥ 4·numKvPairs leaves at least numKvPairs keys in [1, V/2) and values in [V/2, V).
  const half = Math.floor(vocabSize / 2);
  assertInteger(FN, "numExamples", numExamples, { min: 0 });
  assertNumber(FN, "powerA", powerA, { min: 0, minExclusive: true });
  assertBoolean(FN, "randomNonQueries", randomNonQueries);

  const rng = new Rng(seed);
  const keyPool = Array.from({ length: half - 1 }, (_, i) => i + 1);
  const valuePool = Array.from({ length: vocabSize - half }, (_, i) => half + i);
  // Draw order is part of the contract: all keys, then all values, then all gaps, then the fill.
  const keys = Array.from({ length: numExamples }, () => rng.sample(keyPool, numKvPairs));
  const values = Array.from({ length: numExamples }, () => rng.sample(valuePool, numKvPairs));
  const context = 2 * numKvPairs * numPasses;
  const space = (seqLen - context) / 2;
  // Un-normalised weights, computed exactly as the reference JS does (normalising would change the draws).
  const weights = Array.from({ length: space }, (_, i) => powerA * (i + 1) ** (powerA - 1));
  const gaps = Array.from({ length: numExamples }, () => rng.weighted(weights, numKvPairs));

  const inputs: number[][] = [];
  const labels: number[][] = [];
  for (let e = 0; e < numExamples; e++) {
    const x = new Array<number>(seqLen).fill(0);
    const y = new Array<number>(seqLen).fill(IGNORE_INDEX);
    for (let p = 0; p < numPasses; p++) {
      for (let i = 0; i < numKvPairs; i++) {
        x[2 * numKvPairs * p + 2 * i] = keys[e]![i]!;
        x[2 * numKvPairs * p + 2 * i + 1] = values[e]![i]!;
      }
    }
    for (let i = 0; i < numKvPairs; i++) {
      const at = context + 2 * gaps[e]![i]!;
      x[at] = keys[e]![i]!;
      y[at] = values[e]![i]!;
    }
    inputs.push(x);
    labels.push(y);
  }
  if (randomNonQueries) {
    for (const x of inputs) for (let t = 0; t < seqLen; t++) if (x[t] === 0) x[t] = rng.randint(vocabSize);
  }
  return { inputs, labels };
}
