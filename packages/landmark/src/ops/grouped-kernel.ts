// The fast formulation of training-time grouped attention (standard layout), one (batch, head) pair at a
// time on 2-D tensors — on wasm, batched products, broadcasting `where` (Tile) and slices of large
// tensors (whole-input copies) dominated a batched version 5:1.
//
// With e = exp(s − m_b) over the visible regular keys of block b (m_b: their maximum), z_b = Σ e and
// lse_b = m_b + log z_b, the grouped softmax is
//   w_ij = e_ij · P_ib / z_ib,   P_i· = softmax over blocks b ≤ c of g_ib,
//   g_ib = s[landmark b] for an earlier block b, lse_ic for the own block c,
// because the official p0 spreads over {own-block keys} ∪ {earlier landmarks}, and an own-block key's
// p0 is exp(s_ij)/Z0 = e_ij · exp(lse_ic)/(z_ic·Z0). Only [rows, blocks] tensors carry the grouping;
// the [rows, keys] passes are add-mask, max, sub, exp, sum and one multiply, as many as a plain softmax.
import * as tf from "@tensorflow/tfjs";
import { batchMatMul } from "@attnkit/core";
import { MASKED } from "./grouped-softmax";

const onWasm = () => tf.getBackend() === "wasm";

/** `x: [b, h, t, d]` → the `[t, d]` matrix of pair g, copying only that pair on wasm (gatherND). */
function pairOf(x: tf.Tensor, g: number): tf.Tensor2D {
  const [b, h, t, d] = x.shape as [number, number, number, number];
  const G = b * h;
  if (G === 1) return x.reshape([t, d]) as tf.Tensor2D;
  if (!onWasm()) return x.reshape([G, t, d]).slice([g, 0, 0], [1, t, d]).reshape([t, d]) as tf.Tensor2D;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor;
    return {
      value: tf.gatherND(input.reshape([G, t * d]), tf.tensor2d([[g]], [1, 1], "int32")).reshape([t, d]),
      gradFunc: (dy: tf.Tensor) => dy.reshape([1, t * d]).pad([[g, G - g - 1], [0, 0]]).reshape(x.shape),
    };
  });
  return op(x) as tf.Tensor2D;
}

interface RowMasks {
  /** 0 on visible regular keys, MASKED elsewhere: `[R, nbk, bs]`. */
  keys: tf.Tensor;
  /** 1 for earlier blocks `[R, nbk]`. */
  earlier: tf.Tensor;
  /** 1 for the own block `[R, nbk]`. */
  own: tf.Tensor;
  /** MASKED for later blocks, else 0 `[R, nbk]`. */
  later: tf.Tensor;
}

function rowMasks(first: number, rows: number, nbk: number, blockSize: number, keyEnd: number): RowMasks {
  const n = blockSize + 1;
  const keys = new Float32Array(rows * nbk * blockSize);
  const earlier = new Float32Array(rows * nbk);
  const own = new Float32Array(rows * nbk);
  const later = new Float32Array(rows * nbk);
  for (let r = 0; r < rows; r++) {
    const pos = first + r;
    const c = Math.floor(pos / n);
    for (let b = 0; b < nbk; b++) {
      earlier[r * nbk + b] = b < c ? 1 : 0;
      own[r * nbk + b] = b === c ? 1 : 0;
      later[r * nbk + b] = b > c ? MASKED : 0;
      for (let s = 0; s < blockSize; s++) {
        const key = b * n + s;
        const visible = key < keyEnd && (b < c || (b === c && key <= pos));
        keys[(r * nbk + b) * blockSize + s] = visible ? 0 : MASKED;
      }
    }
  }
  return {
    keys: tf.tensor3d(keys, [rows, nbk, blockSize]),
    earlier: tf.tensor2d(earlier, [rows, nbk]),
    own: tf.tensor2d(own, [rows, nbk]),
    later: tf.tensor2d(later, [rows, nbk]),
  };
}

/**
 * Grouped attention of scaled (and rotated) queries `qs: [b, h, tq, d]` at key positions offset..,
 * over keys `k: [b, h, tk, d]` and values `v: [b, h, tk, dv]` in the standard layout. Returns the output
 * `[b, h, tq, dv]` and, when asked, the regular-key weights per row block (for returnWeights).
 */
export function groupedAttention(
  qs: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  blockSize: number,
  offset: number,
  returnWeights: boolean,
): { output: tf.Tensor; weights: tf.Tensor | null } {
  const [B, H, Tq, D] = qs.shape as [number, number, number, number];
  const Tk = k.shape[2]!;
  const Dv = v.shape[3]!;
  const n = blockSize + 1;
  const nb = Math.ceil(Tk / n);
  // Rows per step: skip most future blocks (causal) while keeping a score block ≤ 4M entries.
  const rows = Math.max(1, Math.min(Tq, 512, Math.floor((1 << 22) / Math.max(1, nb * blockSize))));
  const steps: { t0: number; r: number; nbk: number; masks: RowMasks }[] = [];
  for (let t0 = 0; t0 < Tq; t0 += rows) {
    const r = Math.min(rows, Tq - t0);
    const nbk = Math.floor((offset + t0 + r - 1) / n) + 1;
    steps.push({ t0, r, nbk, masks: rowMasks(offset + t0, r, nbk, blockSize, Tk) });
  }
  const outs: tf.Tensor[] = [];
  const weights: tf.Tensor[] = [];
  for (let g = 0; g < B * H; g++) {
    const q2 = pairOf(qs, g);
    // Regular keys and landmarks of this pair as [blocks·bs, d] and [blocks, d] (padding to whole blocks).
    const split = (x: tf.Tensor2D, width: number) => {
      const blocks = (nb * n > Tk ? x.pad([[0, nb * n - Tk], [0, 0]]) : x).reshape([nb, n * width]);
      return {
        regular: blocks.slice([0, 0], [nb, blockSize * width]).reshape([nb * blockSize, width]),
        landmark: blocks.slice([0, blockSize * width], [nb, width]),
      };
    };
    const keys = split(pairOf(k, g), D);
    const values = split(pairOf(v, g), Dv).regular;
    const rowOuts: tf.Tensor[] = [];
    for (const { t0, r, nbk, masks } of steps) {
      const qr = r === Tq ? q2 : q2.slice([t0, 0], [r, D]);
      const kr = nbk === nb ? keys.regular : keys.regular.slice([0, 0], [nbk * blockSize, D]);
      const kl = nbk === nb ? keys.landmark : keys.landmark.slice([0, 0], [nbk, D]);
      const vr = nbk === nb ? values : values.slice([0, 0], [nbk * blockSize, Dv]);
      const s = batchMatMul(qr, kr, false, true).reshape([r, nbk, blockSize]).add(masks.keys);
      const m = s.max(-1, true);
      const e = s.sub(m).exp();
      const z = e.sum(-1);
      const lse = m.reshape([r, nbk]).add(z.log());
      const gate = batchMatMul(qr, kl, false, true).mul(masks.earlier).add(lse.mul(masks.own)).add(masks.later);
      const coef = tf.softmax(gate).div(z).reshape([r, nbk, 1]);
      const w = e.mul(coef).reshape([r, nbk * blockSize]);
      rowOuts.push(batchMatMul(w, vr));
      if (returnWeights) weights.push(w.pad([[0, 0], [0, (nb - nbk) * blockSize]]).reshape([1, r, nb * blockSize]));
    }
    outs.push(rowOuts.length === 1 ? rowOuts[0]! : tf.concat(rowOuts, 0));
  }
  const output = (outs.length === 1 ? outs[0]!.expandDims(0) : tf.stack(outs)).reshape([B, H, Tq, Dv]);
  if (!returnWeights) return { output, weights: null };
  // Rows were pushed pair by pair, step by step.
  const perPair = steps.length;
  const pairs = Array.from({ length: B * H }, (_, g) => tf.concat(weights.slice(g * perPair, (g + 1) * perPair), 1));
  return { output, weights: tf.concat(pairs, 0).reshape([B, H, Tq, nb * blockSize]) };
}
