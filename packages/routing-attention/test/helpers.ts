import * as tf from "@tensorflow/tfjs";
import { hostArray, type HostArray } from "@attnkit/core/reference";
import { randomPair } from "@attnkit/testing";

/** Seeded q, k, v tensors and their host copies. */
export function randomQkv(shape: [number, number, number, number], dimV: number, seed: number) {
  const [b, h, s, d] = shape;
  const q = randomPair([b, h, s, d], seed);
  const k = randomPair([b, h, s, d], seed + 1);
  const v = randomPair([b, h, s, dimV], seed + 2);
  return { q: q.tensor, k: k.tensor, v: v.tensor, hq: q.host, hk: k.host, hv: v.host, dispose: () => tf.dispose([q.tensor, k.tensor, v.tensor]) };
}

export const flatInts = (x: number[][][][]): number[] => x.flat(3);

export function toHostOf(values: ArrayLike<number>, shape: number[]): HostArray {
  return hostArray(shape, values);
}
