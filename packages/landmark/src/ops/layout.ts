// Shared pieces of the landmark layout: a landmark closes every block of `blockSize` regular tokens, so
// with n = blockSize + 1 position p is a landmark iff p % n == blockSize and belongs to block ⌊p / n⌋.
import * as tf from "@tensorflow/tfjs";
import { MASKED } from "./grouped-softmax";

export { MASKED };

/** Rows per query block: small enough to skip most future keys and to bound the score block. */
export function rowsPerBlock(pairs: number, keys: number, queries: number): number {
  const budget = tf.getBackend() === "wasm" || tf.getBackend() === "cpu" ? 1 << 22 : 1 << 25;
  return Math.max(1, Math.min(queries, 256, Math.floor(budget / Math.max(1, pairs * keys))));
}

/**
 * Grouped-softmax logits of queries at local positions `first..first+R−1` over the local keys `[0, k1)`
 * (k1 = end of the last block a query reaches), in the "bias view" of the grouped softmax: a regular
 * key of an earlier block b gets `s + (s[landmark b] − logsumexp_b(s))`, a key of the own block up to
 * the query keeps `s`, every other key (landmarks, future keys) is masked. One softmax over these
 * logits equals the official two-level grouped softmax: each block's mass is exp(s[landmark b]).
 * `qRows: [G, R, D]` is already scaled (and rotated); `keys: [G, L, D]`, `values: [G, L, Dv]`.
 * Returns logits `[G, R, nb·bs]` and the matching regular values `[G, nb·bs, Dv]`.
 */
export function localGroupedLogits(
  qRows: tf.Tensor,
  keys: tf.Tensor,
  values: tf.Tensor,
  first: number,
  blockSize: number,
  matMul: (a: tf.Tensor, b: tf.Tensor, ta: boolean, tb: boolean) => tf.Tensor,
): { logits: tf.Tensor3D; values: tf.Tensor3D; blocks: number } {
  const n = blockSize + 1;
  const [G, R] = qRows.shape as [number, number, number];
  const L = keys.shape[1]!;
  const last = first + R - 1;
  const k1 = Math.min(L, (Math.floor(last / n) + 1) * n);
  const nb = Math.ceil(k1 / n);
  const padded = nb * n;
  let s = matMul(qRows, keys.slice([0, 0, 0], [-1, k1, -1]), false, true);
  if (padded > k1) s = s.pad([[0, 0], [0, 0], [0, padded - k1]]);
  const s4 = s.reshape([G, R, nb, n]);
  const tok = s4.slice([0, 0, 0, 0], [-1, -1, -1, blockSize]);
  const lm = s4.slice([0, 0, 0, blockSize], [-1, -1, -1, 1]);
  const { visible, earlier } = rowMasks(first, R, nb, blockSize, k1);
  const m = tok.max(-1, true);
  const lse = m.add(tok.sub(m).exp().sum(-1, true).log());
  // Additive and multiplicative masks: a broadcasting `where` tiles its condition on wasm.
  const bias = lm.sub(lse).mul(earlier);
  const logits = tok.add(bias).add(visible).reshape([G, R, nb * blockSize]) as tf.Tensor3D;
  let v = values.slice([0, 0, 0], [-1, k1, -1]);
  if (padded > k1) v = v.pad([[0, 0], [0, padded - k1], [0, 0]]);
  const dv = values.shape[2]!;
  const regular = v.reshape([G, nb, n, dv]).slice([0, 0, 0, 0], [-1, -1, blockSize, -1]).reshape([G, nb * blockSize, dv]) as tf.Tensor3D;
  return { logits, values: regular, blocks: nb };
}

/** Host-built masks of a query block: 0 / MASKED on regular keys `[R, nb, bs]`, 1 on earlier blocks `[R, nb, 1]`. */
function rowMasks(first: number, rows: number, nb: number, blockSize: number, keyEnd: number): { visible: tf.Tensor; earlier: tf.Tensor } {
  const n = blockSize + 1;
  const visible = new Float32Array(rows * nb * blockSize);
  const earlier = new Float32Array(rows * nb);
  for (let r = 0; r < rows; r++) {
    const pos = first + r;
    const own = Math.floor(pos / n);
    for (let b = 0; b < nb; b++) {
      earlier[r * nb + b] = b < own ? 1 : 0;
      for (let s = 0; s < blockSize; s++) {
        const key = b * n + s;
        visible[(r * nb + b) * blockSize + s] = key < keyEnd && (b < own || (b === own && key <= pos)) ? 0 : MASKED;
      }
    }
  }
  return { visible: tf.tensor3d(visible, [rows, nb, blockSize]), earlier: tf.tensor3d(earlier, [rows, nb, 1]) };
}

/** Regular (non-landmark) weights `[..., nb·bs]` spread back to key positions `[..., keys]` (landmarks 0). */
export function weightsToKeys(w: tf.Tensor, blocks: number, blockSize: number, keys: number): tf.Tensor {
  const lead = w.shape.slice(0, -1);
  const n = blockSize + 1;
  // Rank ≤ 3 throughout: TF.js's WebGPU shaders have no rank-5 coordinates.
  const full = w.reshape([-1, blocks, blockSize]).pad([[0, 0], [0, 0], [0, 1]]).reshape([-1, blocks * n]);
  const cut = keys <= blocks * n ? full.slice([0, 0], [-1, keys]) : full.pad([[0, 0], [0, keys - blocks * n]]);
  return cut.reshape([...lead, keys]);
}

/** Rotates `x: [..., D]` (half-split pairs, LLaMA convention) by per-row positions broadcastable to `x.shape[:-1]`. */
export function rotateAt(x: tf.Tensor, positions: tf.Tensor, base: number): tf.Tensor {
  const dim = x.shape[x.rank - 1]!;
  const half = dim / 2;
  const invFreq = tf.tensor1d(Array.from({ length: half }, (_, i) => base ** (-(2 * i) / dim)));
  const angles = positions.cast("float32").expandDims(-1).mul(invFreq);
  const cos = tf.cos(angles);
  const sin = tf.sin(angles);
  const [x1, x2] = tf.split(x, 2, -1) as [tf.Tensor, tf.Tensor];
  return tf.concat([x1.mul(cos).sub(x2.mul(sin)), x2.mul(cos).add(x1.mul(sin))], -1);
}
