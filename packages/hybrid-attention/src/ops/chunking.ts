// The causal engine shared by linearAttention and decayLinearAttention:
//   o_t = Σ_{s≤t} λ^{t−s} (q_t·k_s) v_s + λ^{t+1} q_tᵀ S0,   S_T = λ^T S0 + Σ_s λ^{T−1−s} k_s v_sᵀ
// with λ one constant per head (no decay = λ 1), optionally divided by the normaliser q_t·z_t + eps with
// z_t = λ^{t+1} z0 + Σ_{s≤t} λ^{t−s} k_s, in three forms that agree: parallel (quadratic), recurrent (token
// by token) and chunk (Lightning Attention-2: intra-chunk quadratic + inter-chunk state, see chunked.ts).
// Callers run it inside their tf.tidy.
import * as tf from "@tensorflow/tfjs";
import { batchMatMul } from "@attnkit/core";
import { chunkedCausal, type ElementwiseMap } from "./chunked";
import { decayPower, lowerGrid, range } from "./decay-grid";
import type { LinearMode } from "./state";

export interface EngineOptions {
  /** Feature map φ applied to q and k first (null: none), and the scale of φ(q). */
  map: ElementwiseMap | null;
  qScale: number;
  /** log λ per head, [h] (≤ 0), or null for no decay. */
  logDecay: tf.Tensor | null;
  /** The same log λ as host values when the decay is a constant (chunk mode then computes no gradient for it). */
  logDecayValues: number[] | null;
  mode: LinearMode;
  chunkSize: number;
  /** Initial state [b, h, dk, dv] or null (zeros). */
  s0: tf.Tensor | null;
  /** Divide by q·z + eps (null: no normaliser). */
  eps: number | null;
  /** Initial normaliser [b, h, dk] or null (zeros); with eps only. */
  z0: tf.Tensor | null;
  /** Whether the caller needs the final state (chunk mode computes it only then). */
  withState: boolean;
}

/** The output and, when asked for, the final state (z with the normaliser). */
export interface EngineResult {
  o: tf.Tensor;
  s?: tf.Tensor;
  z?: tf.Tensor;
}

/** Decay matrix D [h or 1, n, n] with D_ts = λ^{t−s} for t ≥ s, else 0. */
function decayMatrix(logDecay: tf.Tensor | null, n: number): tf.Tensor {
  const { mask, diff } = lowerGrid(n);
  if (!logDecay) return mask.expandDims(0);
  return decayPower(logDecay, diff).mul(mask);
}

export function causalLinear(qIn: tf.Tensor, kIn: tf.Tensor, v: tf.Tensor, opts: EngineOptions): EngineResult {
  const [b, h, seq, dk] = qIn.shape as number[];
  const { map, qScale } = opts;
  if (opts.mode === "chunk" && seq! > opts.chunkSize) {
    // φ is applied inside the op, segment by segment (sequence-sized element-wise passes cost more on wasm).
    const s0 = opts.s0 ?? tf.zeros([b!, h!, dk!, v.shape[3]!]);
    const z0 = opts.eps === null ? null : (opts.z0 ?? tf.zeros([b!, h!, dk!]));
    const o = chunkedCausal({ q: qIn, k: kIn, v, s0, z0, logDecay: opts.logDecayValues ?? opts.logDecay, map, qScale }, opts.chunkSize, opts.eps);
    if (!opts.withState) return { o };
    const k = map ? map.value(kIn) : kIn;
    const s = finalState(k, v, opts.logDecay, s0);
    return z0 ? { o, s, z: finalState(k, null, opts.logDecay, z0) } : { o, s };
  }
  const qm = map ? map.value(qIn) : qIn;
  const q = qScale === 1 ? qm : qm.mul(qScale);
  const k = map ? map.value(kIn) : kIn;
  const run = opts.mode === "recurrent" ? recurrent : parallel;
  if (opts.eps === null) return run(q, k, v, opts.logDecay, opts.s0);
  // The normaliser rides along as an extra value column of ones: the last output column is q·z.
  const dv = v.shape[3]!;
  const vx = tf.concat([v, tf.onesLike(v.slice([0, 0, 0, 0], [-1, -1, -1, 1]))], 3);
  const s0 = opts.s0 || opts.z0 ? tf.concat([opts.s0 ?? tf.zeros([b!, h!, dk!, dv]), (opts.z0 ?? tf.zeros([b!, h!, dk!])).expandDims(3)], 3) : null;
  const { o, s } = run(q, k, vx, opts.logDecay, s0);
  const output = o.slice([0, 0, 0, 0], [-1, -1, -1, dv]).div(o.slice([0, 0, 0, dv], [-1, -1, -1, 1]).add(opts.eps));
  return { o: output, s: s.slice([0, 0, 0, 0], [-1, -1, -1, dv]), z: s.slice([0, 0, 0, dv], [-1, -1, -1, 1]).squeeze([3]) };
}

// S_T = λ^T S0 + Σ_t λ^{T−1−t} k_t v_tᵀ; without v, z_T = λ^T z0 + Σ_t λ^{T−1−t} k_t.
function finalState(k: tf.Tensor, v: tf.Tensor | null, logDecay: tf.Tensor | null, s0: tf.Tensor | null): tf.Tensor {
  const [, heads, seq] = k.shape as number[];
  const kDecay = logDecay ? decayPower(logDecay, range(seq! - 1, seq!, -1)).reshape([1, heads!, seq!, 1]) : null;
  const kd = kDecay ? k.mul(kDecay) : k;
  const s = v ? batchMatMul(kd, v, true, false) : kd.sum(2);
  if (!s0) return s;
  return s.add(logDecay ? s0.mul(decayPower(logDecay, tf.scalar(seq!)).reshape([1, heads!, ...s0.shape.slice(2).map(() => 1)])) : s0);
}

function parallel(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, logDecay: tf.Tensor | null, s0: tf.Tensor | null): { o: tf.Tensor; s: tf.Tensor } {
  const [, heads, seq] = q.shape as number[];
  const d = decayMatrix(logDecay, seq!).reshape([1, logDecay ? heads! : 1, seq!, seq!]);
  let o = batchMatMul(batchMatMul(q, k, false, true).mul(d), v);
  if (s0) {
    const qDecay = logDecay ? decayPower(logDecay, range(1, seq!)).reshape([1, heads!, seq!, 1]) : null;
    o = o.add(batchMatMul(qDecay ? q.mul(qDecay) : q, s0));
  }
  return { o, s: finalState(k, v, logDecay, s0) };
}

function recurrent(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, logDecay: tf.Tensor | null, s0: tf.Tensor | null): { o: tf.Tensor; s: tf.Tensor } {
  const [batch, heads, , dk] = q.shape as number[];
  const dv = v.shape[3]!;
  const lambda = logDecay ? tf.exp(logDecay).reshape([1, heads!, 1, 1]) : null;
  const qs = tf.unstack(q, 2);
  const ks = tf.unstack(k, 2);
  const vs = tf.unstack(v, 2);
  let s = s0 ?? tf.zeros([batch!, heads!, dk!, dv]);
  const outs: tf.Tensor[] = [];
  for (let t = 0; t < qs.length; t++) {
    const write = ks[t]!.expandDims(3).mul(vs[t]!.expandDims(2));
    s = (lambda ? s.mul(lambda) : s).add(write);
    outs.push(qs[t]!.expandDims(3).mul(s).sum(2));
  }
  return { o: tf.stack(outs, 2), s };
}
