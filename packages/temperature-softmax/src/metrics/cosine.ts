// Length-collapse metric: the mean pairwise cosine similarity of embeddings (overall and per length bucket).
import type * as tf from "@tensorflow/tfjs";
import { OptionError, ShapeError, assertNumber } from "@attnkit/core";
import { readMatrices } from "./host";

/** Sum over pairs i ≠ j of cos(e_i, e_j) for the given rows, in O(rows·d): ‖Σu‖² − Σ‖u‖², u = e/‖e‖. */
function pairwiseCosineSum(emb: Float64Array, d: number, rows: number[]): number {
  const total = new Float64Array(d);
  let self = 0;
  for (const r of rows) {
    let norm = 0;
    for (let j = 0; j < d; j++) norm += emb[r * d + j]! ** 2;
    if (norm === 0) continue; // a zero embedding has no direction: it contributes cosine 0
    const inv = 1 / Math.sqrt(norm);
    for (let j = 0; j < d; j++) total[j] = total[j]! + emb[r * d + j]! * inv;
    self += 1;
  }
  let sq = 0;
  for (let j = 0; j < d; j++) sq += total[j]! ** 2;
  return sq - self;
}

/**
 * Mean cosine similarity over all pairs i ≠ j of the rows of `emb` `[n, d]` (n ≥ 2); a zero row counts
 * as cosine 0. A tensor is read with `dataSync()`; on WebGPU in Node pass `await emb.array()`.
 */
export function meanPairwiseCosine(emb: tf.Tensor | number[][]): number {
  const fn = "meanPairwiseCosine";
  const { mats, rows, cols } = readMatrices(fn, "emb", emb, false);
  if (rows < 2) throw new ShapeError(`${fn}: emb must have at least 2 rows (pairs), got ${rows}`);
  const all = [...Array(rows).keys()];
  return pairwiseCosineSum(mats[0]!, cols, all) / (rows * (rows - 1));
}

/**
 * Mean pairwise cosine within each length bucket `[edges[i], edges[i+1])` (edges ascending), so
 * `edges.length − 1` values; `null` for a bucket with fewer than two embeddings (no pair).
 * A tensor is read with `dataSync()`; on WebGPU in Node pass `await emb.array()`.
 */
export function lengthBucketCosine(emb: tf.Tensor | number[][], lengths: number[], edges: number[]): (number | null)[] {
  const fn = "lengthBucketCosine";
  const { mats, rows, cols } = readMatrices(fn, "emb", emb, false);
  if (!Array.isArray(lengths) || lengths.length !== rows) {
    throw new ShapeError(`${fn}: lengths must be an array with one length per embedding (${rows}), got ${Array.isArray(lengths) ? `an array of length ${lengths.length}` : typeof lengths}`);
  }
  lengths.forEach((l, i) => assertNumber(fn, `lengths[${i}]`, l));
  if (!Array.isArray(edges) || edges.length < 2) throw new OptionError(`${fn}: edges must be an array of at least 2 ascending numbers, got ${Array.isArray(edges) ? `an array of length ${edges.length}` : typeof edges}`);
  edges.forEach((e, i) => {
    // ±Infinity is allowed, for an open first or last bucket.
    if (typeof e !== "number" || Number.isNaN(e)) throw new OptionError(`${fn}: edges[${i}] must be a number, got ${String(e)}`);
    if (i > 0 && e <= edges[i - 1]!) throw new OptionError(`${fn}: edges must be strictly ascending, got ${edges[i - 1]} then ${e}`);
  });
  const out: (number | null)[] = [];
  for (let bucket = 0; bucket + 1 < edges.length; bucket++) {
    const members = lengths.flatMap((l, i) => (l >= edges[bucket]! && l < edges[bucket + 1]! ? [i] : []));
    const m = members.length;
    out.push(m < 2 ? null : pairwiseCosineSum(mats[0]!, cols, members) / (m * (m - 1)));
  }
  return out;
}
