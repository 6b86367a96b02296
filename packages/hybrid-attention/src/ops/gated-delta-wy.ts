// The exact WY chunk form of fla's naive_chunk_gated_delta_rule over one stretch of the sequence, differentiated
// by TF.js autodiff. The intra-chunk term uses the decay mask Γ, as the code does (the paper's final chunk
// formula writes the causal mask M: erratum, NVlabs/GatedDeltaNet issue #15). gated-delta-segments.ts runs it
// on cache-sized segments; over a whole long sequence its tensors outgrow the cache.
import * as tf from "@tensorflow/tfjs";
import { batchMatMul, splitLeading } from "@attnkit/core";
import { takeRows } from "./rows";
import { view } from "./view";

/** Lower-triangular 0/1 mask [c, c], with or without the diagonal. */
function lower(c: number, diagonal: boolean): tf.Tensor2D {
  const m = new Float32Array(c * c);
  for (let i = 0; i < c; i++) for (let j = 0; j <= (diagonal ? i : i - 1); j++) m[i * c + j] = 1;
  return tf.tensor2d(m, [c, c]);
}

// d(I + A)⁻¹ = −T dA T, so dA = −Tᵀ dT Tᵀ, kept strictly lower.
const inverseGrad = (inv: tf.Tensor, dy: tf.Tensor) => {
  const c = inv.shape[inv.rank - 1]!;
  return batchMatMul(batchMatMul(inv, dy, true, false), inv, false, true).neg().mul(lower(c, false));
};

const swapLast = (x: tf.Tensor) => tf.transpose(x, [0, 2, 1]);

// (I + A)⁻¹ for strictly lower A [n, c, c] by halves: with M = I + A = [[M11, 0], [M21, M22]],
// M⁻¹ = [[T11, 0], [−T22 M21 T11, T22]] where T11, T22 invert the diagonal blocks (recursively, down to 1×1).
// Exact, like forward substitution (a Neumann series cancels catastrophically in float32 when keys are
// correlated), but in log₂ c levels of products batched over all chunks and heads instead of c sequential
// steps that each re-read all rows so far (chunk fwd+bwd 5–9% faster on wasm at seq 2048 and 8192, 4 heads of 64).
function blockInverse(a: tf.Tensor): tf.Tensor {
  const [n, c] = a.shape as number[];
  if (c === 1) return tf.ones([n!, 1, 1]);
  const c1 = Math.floor(c! / 2);
  const c2 = c! - c1;
  const lowerRows = swapLast(takeRows(a, c1, c2)); // columns of the lower c2 rows, [n, c, c2]
  const t11 = blockInverse(swapLast(takeRows(swapLast(takeRows(a, 0, c1)), 0, c1)));
  const t22 = blockInverse(swapLast(takeRows(lowerRows, c1, c2)));
  const t21 = batchMatMul(batchMatMul(t22, swapLast(takeRows(lowerRows, 0, c1))), t11).neg();
  const bottom = t21.pad([[0, 0], [0, 0], [0, c2]]).add(t22.pad([[0, 0], [0, 0], [c1, 0]]));
  return tf.concat([t11.pad([[0, 0], [0, 0], [0, c2]]), bottom], 1);
}

// T = (I + A)⁻¹ for strictly lower A [..., c, c]. A custom gradient keeps the inversion's steps off the tape.
export const unitLowerInverse = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [a, save] = args as [tf.Tensor, tf.GradSaveFunc];
  const c = a.shape[a.rank - 1]!;
  const value = blockInverse(a.reshape([a.size / (c * c), c, c])).reshape(a.shape);
  save([value]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => inverseGrad(saved[0]!, dy),
  };
});

// States at every chunk start: S_0 = s0, S_{c+1} = M_c S_c + B_c; returns [b, h, n + 1, dk, dv]. One small
// product per chunk is inherently sequential; a custom gradient (the reverse scan) keeps it off the tape.
const affineScan = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [m, bias, s0, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  const [b, h, n, dk] = m.shape as number[];
  const dv = bias.shape[4]!;
  const perChunk = (x: tf.Tensor, cols: number) => splitLeading(x.reshape([b! * h!, x.shape[2]!, dk!, cols]).transpose([1, 0, 2, 3]));
  const ms = perChunk(m, dk!);
  const bs = perChunk(bias, dv);
  const states = [s0.reshape([b! * h!, dk!, dv])];
  for (let i = 0; i < n!; i++) states.push(batchMatMul(ms[i]!, states[i]!).add(bs[i]!));
  const value = tf.stack(states, 0).transpose([1, 0, 2, 3]).reshape([b!, h!, n! + 1, dk!, dv]);
  save([m, value]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sm, sv] = saved as [tf.Tensor, tf.Tensor];
      const mats = perChunk(sm, dk!);
      const st = perChunk(sv, dv);
      const dys = perChunk(dy, dv);
      let g = dys[n!]!;
      const dM: tf.Tensor[] = [];
      const dB: tf.Tensor[] = [];
      for (let i = n! - 1; i >= 0; i--) {
        dB[i] = g;
        dM[i] = batchMatMul(g, st[i]!, false, true);
        g = dys[i]!.add(batchMatMul(mats[i]!, g, true, false));
      }
      const back = (list: tf.Tensor[], cols: number) => tf.stack(list, 0).transpose([1, 0, 2, 3]).reshape([b!, h!, n!, dk!, cols]);
      return [back(dM, dk!), back(dB, dv), g.reshape([b!, h!, dk!, dv])];
    },
  };
});

/** `inv`, already computed as unitLowerInverse(a), as if computed from `a` again (same gradient, no c steps). */
export function knownInverse(a: tf.Tensor, inv: tf.Tensor): tf.Tensor {
  const op = tf.customGrad(() => ({ value: inv.clone(), gradFunc: (dy: tf.Tensor) => [inverseGrad(inv, dy)] }));
  return op(a);
}

/** Output [b, h, seq, dv] and final state [b, h, dk, dv] for already normalised and scaled q and k, log α = g;
 * `invert` computes (I + A)⁻¹ for the chunks' strictly lower A. */
export function wyChunks(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, g: tf.Tensor, beta: tf.Tensor, s0: tf.Tensor, chunkSize: number, invert: (a: tf.Tensor) => tf.Tensor = unitLowerInverse): { output: tf.Tensor; s: tf.Tensor } {
  const [b, h, seq, dk] = q.shape as number[];
  const dv = v.shape[3]!;
  const c = Math.min(chunkSize, seq!);
  const n = Math.ceil(seq! / c);
  const pad = n * c - seq!;
  // Padding with k = 0, β = 0, log α = 0 leaves the state untouched: equivalent to a shorter last chunk.
  const split4 = (x: tf.Tensor) => view(pad > 0 ? x.pad([[0, 0], [0, 0], [0, pad], [0, 0]]) : x, [b!, h!, n, c, x.shape[3]!]);
  const split3 = (x: tf.Tensor) => (pad > 0 ? x.pad([[0, 0], [0, 0], [0, pad]]) : x).reshape([b!, h!, n, c]);
  const qc = split4(q);
  const kc = split4(k);
  const vc = split4(v);
  const lowerIncl = lower(c, true);
  // Local cumulative log decay γ, [b, h, n, c], as a product with the lower mask rather than tf.cumsum: the
  // gradient of cumsum (a reverse cumsum) is wrong on TF.js 4.22's WebGPU backend for some shapes (e.g. a
  // [1, 2, 3, 2] input summed along its last axis).
  const gamma = tf.matMul(split3(g).reshape([-1, c]), lowerIncl, false, true).reshape([b!, h!, n, c]);
  const bc = split3(beta).expandDims(4); // [b, h, n, c, 1]
  const diff = gamma.expandDims(4).sub(gamma.expandDims(3)); // γ_i − γ_j
  const decay = tf.exp(diff.mul(lowerIncl)).mul(lowerIncl); // Γ (masked before exp: no inf·0 in gradients)
  const kk = batchMatMul(kc, kc, false, true);
  const a = kk.mul(decay).mul(bc).mul(lower(c, false));
  const t = invert(a);
  const eg = tf.exp(gamma).expandDims(4);
  const u = batchMatMul(t, vc.mul(bc)); // [b, h, n, c, dv]
  const w = batchMatMul(t, kc.mul(bc).mul(eg)); // [b, h, n, c, dk]
  const gLast = gamma.slice([0, 0, 0, c - 1], [-1, -1, -1, 1]); // [b, h, n, 1]
  const kd = kc.mul(tf.exp(gLast.sub(gamma)).expandDims(4));
  // S_{c+1} = M_c S_c + B_c with M_c = e^{γ_last} I − K̃ᵀW, B_c = K̃ᵀU: all products batched over chunks,
  // only one small product per chunk stays sequential.
  const m = tf.eye(dk!).mul(tf.exp(gLast).expandDims(4)).sub(batchMatMul(kd, w, true, false));
  const bias = batchMatMul(kd, u, true, false);
  const all = affineScan(m, bias, s0);
  const flat = view(all, [b! * h!, n + 1, dk! * dv]);
  const st = view(takeRows(flat, 0, n), [b!, h!, n, dk!, dv]);
  const s = takeRows(flat, n, 1).reshape([b!, h!, dk!, dv]);
  const vNew = u.sub(batchMatMul(w, st));
  const o = batchMatMul(qc.mul(eg), st).add(batchMatMul(batchMatMul(qc, kc, false, true).mul(decay), vNew));
  const output = view(o, [b!, h!, n * c, dv]);
  return { output: pad > 0 ? output.slice([0, 0, 0, 0], [-1, -1, seq!, -1]) : output, s };
}
