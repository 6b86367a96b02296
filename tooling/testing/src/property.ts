// fast-check arbitraries for attention-shaped inputs, and a seeded way to make their tensors.
import fc from "fast-check";
import * as tf from "@tensorflow/tfjs";
import { hostArray, type HostArray } from "@attnkit/core/reference";

export { fc };

export interface AttentionShape {
  batch: number;
  heads: number;
  seqQ: number;
  seqK: number;
  dim: number;
  dimV: number;
}

/** Small attention shapes, odd lengths included; `sameLength` forces seqQ = seqK. */
export function attentionShape(limits: { maxSeq?: number; maxDim?: number; sameLength?: boolean } = {}): fc.Arbitrary<AttentionShape> {
  const { maxSeq = 19, maxDim = 9, sameLength = false } = limits;
  return fc
    .record({
      batch: fc.integer({ min: 1, max: 2 }),
      heads: fc.integer({ min: 1, max: 3 }),
      seqQ: fc.integer({ min: 1, max: maxSeq }),
      seqK: fc.integer({ min: 1, max: maxSeq }),
      dim: fc.integer({ min: 1, max: maxDim }),
      dimV: fc.integer({ min: 1, max: maxDim }),
    })
    .map((s) => (sameLength ? { ...s, seqK: s.seqQ } : s));
}

/** Deterministic pseudo-random float32 values in [−scale, scale] (mulberry32). */
export function randomValues(size: number, seed: number, scale = 1): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

/** A seeded random tensor and its float64 host copy (the same float32 values). */
export function randomPair(shape: number[], seed: number, scale = 1): { tensor: tf.Tensor; host: HostArray } {
  const size = shape.reduce((a, b) => a * b, 1);
  const values = randomValues(size, seed, scale);
  return { tensor: tf.tensor(values, shape, "float32"), host: hostArray(shape, values) };
}
