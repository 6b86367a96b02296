// Small shared helpers of the landmark tests.
import * as tf from "@tensorflow/tfjs";
import { randomPair } from "@attnkit/testing";
import type { HostArray } from "../src/reference";

export interface Qkv {
  q: tf.Tensor;
  k: tf.Tensor;
  v: tf.Tensor;
  hq: HostArray;
  hk: HostArray;
  hv: HostArray;
  dispose: () => void;
}

/** Seeded q, k, v of `[b, h, seq, d]` / `[b, h, seq, dv]` with host copies. */
export function makeQkv(b: number, h: number, seq: number, d: number, dv: number, seed: number, scale = 1): Qkv {
  const q = randomPair([b, h, seq, d], seed, scale);
  const k = randomPair([b, h, seq, d], seed + 1, scale);
  const v = randomPair([b, h, seq, dv], seed + 2);
  return {
    q: q.tensor,
    k: k.tensor,
    v: v.tensor,
    hq: q.host,
    hk: k.host,
    hv: v.host,
    dispose: () => tf.dispose([q.tensor, k.tensor, v.tensor]),
  };
}

/** Nested number arrays flattened. */
export const flatNumbers = (x: unknown): number[] => (Array.isArray(x) ? x.flatMap(flatNumbers) : [x as number]);
