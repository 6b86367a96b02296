// The causal engine shared by linearAttention and decayLinearAttention:
//   o_t = Σ_{s≤t} λ^{t−s} (q_t·k_s) v_s + λ^{t+1} q_tᵀ S0,   S_T = λ^T S0 + Σ_s λ^{T−1−s} k_s v_sᵀ
// with λ one constant per head (no decay = λ 1), in three forms that agree: parallel (quadratic),
// recurrent (token by token) and chunk (Lightning Attention-2: intra-chunk quadratic + inter-chunk state).
// Callers run it inside their tf.tidy.
import * as tf from "@tensorflow/tfjs";
import { batchMatMul, splitLeading } from "@attnkit/core";
import { takeRows } from "./rows";
import { view } from "./view";
import type { LinearMode } from "./state";

export interface EngineOptions {
  /** log λ per head, [h] (≤ 0), or null for no decay. */
  logDecay: tf.Tensor | null;
  mode: LinearMode;
  chunkSize: number;
  /** Initial state [b, h, dk, dv] or null (zeros). */
  s0: tf.Tensor | null;
}

// λ^{e} for an exponent grid: exp(log λ_h · e), shaped [h, ...grid]. Exponents come from integer index
// differences, never from differences of long cumulative sums, so long sequences lose no precision.
function decayPower(logDecay: tf.Tensor, exponents: tf.Tensor): tf.Tensor {
  const h = logDecay.shape[0]!;
  return tf.exp(logDecay.reshape([h, ...exponents.shape.map(() => 1)]).mul(exponents.expandDims(0)));
}

/** [n, n] lower-triangular (incl. diagonal) 0/1 mask and the matching t − s exponents (0 above). */
function lowerGrid(n: number): { mask: tf.Tensor2D; diff: tf.Tensor2D } {
  const mask = new Float32Array(n * n);
  const diff = new Float32Array(n * n);
  for (let t = 0; t < n; t++) {
    for (let s = 0; s <= t; s++) {
      mask[t * n + s] = 1;
      diff[t * n + s] = t - s;
    }
  }
  return { mask: tf.tensor2d(mask, [n, n]), diff: tf.tensor2d(diff, [n, n]) };
}

const range = (from: number, count: number, step = 1): tf.Tensor1D => tf.range(from, from + step * count, step, "float32").slice(0, count) as tf.Tensor1D;

/** Decay matrix D [h or 1, n, n] with D_ts = λ^{t−s} for t ≥ s, else 0. */
function decayMatrix(logDecay: tf.Tensor | null, n: number): tf.Tensor {
  const { mask, diff } = lowerGrid(n);
  if (!logDecay) return mask.expandDims(0);
  return decayPower(logDecay, diff).mul(mask);
}

// Exclusive scan: starts_0 = s0, starts_{i+1} = f·starts_i + w_i for w [r, n, d], f [r, 1], s0 [r, d]
// → starts [r, n, d] (w_{n−1} only feeds the state after the last chunk, which the caller builds itself).
const decayScan = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [w, f, s0, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  const ws = splitLeading(w.transpose([1, 0, 2]));
  const states = [s0];
  for (let i = 0; i + 1 < ws.length; i++) states.push(states[i]!.mul(f).add(ws[i]!));
  const value = tf.stack(states, 1);
  save([f, value]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sf, sv] = saved as [tf.Tensor, tf.Tensor];
      const dys = splitLeading(dy.transpose([1, 0, 2]));
      const st = splitLeading(sv.transpose([1, 0, 2]));
      const n = dys.length;
      let g = dys[n - 1]!;
      let df = tf.zerosLike(sf);
      const dw: tf.Tensor[] = [];
      dw[n - 1] = tf.zerosLike(g);
      for (let i = n - 2; i >= 0; i--) {
        dw[i] = g;
        df = df.add(g.mul(st[i]!).sum(1, true));
        g = dys[i]!.add(g.mul(sf));
      }
      return [tf.stack(dw, 1), df, g];
    },
  };
});

export function causalLinear(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, opts: EngineOptions): { o: tf.Tensor; s: tf.Tensor } {
  if (opts.mode === "recurrent") return recurrent(q, k, v, opts);
  if (opts.mode === "chunk" && q.shape[2]! > opts.chunkSize) return chunked(q, k, v, opts);
  return parallel(q, k, v, opts);
}

function parallel(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, { logDecay, s0 }: EngineOptions): { o: tf.Tensor; s: tf.Tensor } {
  const [, heads, seq] = q.shape as number[];
  const d = decayMatrix(logDecay, seq!).reshape([1, logDecay ? heads! : 1, seq!, seq!]);
  let o = batchMatMul(batchMatMul(q, k, false, true).mul(d), v);
  const kDecay = logDecay ? decayPower(logDecay, range(seq! - 1, seq!, -1)).reshape([1, heads!, seq!, 1]) : null;
  let s = batchMatMul(kDecay ? k.mul(kDecay) : k, v, true, false);
  if (s0) {
    const qDecay = logDecay ? decayPower(logDecay, range(1, seq!)).reshape([1, heads!, seq!, 1]) : null;
    o = o.add(batchMatMul(qDecay ? q.mul(qDecay) : q, s0));
    s = s.add(logDecay ? s0.mul(decayPower(logDecay, tf.scalar(seq!)).reshape([1, heads!, 1, 1])) : s0);
  }
  return { o, s };
}

function recurrent(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, { logDecay, s0 }: EngineOptions): { o: tf.Tensor; s: tf.Tensor } {
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

function chunked(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, { logDecay, chunkSize: c, s0 }: EngineOptions): { o: tf.Tensor; s: tf.Tensor } {
  const [batch, heads, seq, dk] = q.shape as number[];
  const dv = v.shape[3]!;
  const n = Math.ceil(seq! / c);
  const pad = n * c - seq!;
  // Zero padding at the end: padded keys write nothing; the padded outputs are cut off below.
  const split = (x: tf.Tensor) => view(pad > 0 ? x.pad([[0, 0], [0, 0], [0, pad], [0, 0]]) : x, [batch!, heads!, n, c, x.shape[3]!]);
  const qc = split(q);
  const kc = split(k);
  const vc = split(v);
  const bh = batch! * heads!;
  const h1 = logDecay ? heads! : 1;
  const dLocal = decayMatrix(logDecay, c).reshape([1, h1, 1, c, c]);
  const qDecay = logDecay ? decayPower(logDecay, range(1, c)).reshape([1, heads!, 1, c, 1]) : null;
  const kDecay = logDecay ? decayPower(logDecay, range(c - 1, c, -1)).reshape([1, heads!, 1, c, 1]) : null;
  const intra = batchMatMul(batchMatMul(qc, kc, false, true).mul(dLocal), vc);
  const writes = batchMatMul(kDecay ? kc.mul(kDecay) : kc, vc, true, false); // [b, h, n, dk, dv]
  const start = s0 ?? tf.zeros([batch!, heads!, dk!, dv]);
  let starts: tf.Tensor; // state at the start of each chunk, [b, h, n, dk, dv]
  if (!logDecay) {
    // Exclusive prefix sum over chunks. TF.js's cumsum gradient is wrong off the last axis, so move it last.
    const flat = writes.reshape([batch!, heads!, n, dk! * dv]).transpose([0, 1, 3, 2]);
    starts = tf.cumsum(flat, 3, true).transpose([0, 1, 3, 2]).reshape([batch!, heads!, n, dk!, dv]).add(start.expandDims(2));
  } else {
    // S_{c+1} = λ^C S_c + ΔS_c: a sequential scan of cheap element-wise steps with a custom gradient (the
    // reverse scan), so the tape holds O(n) state instead of a log-depth scan's O(n log n) (which made
    // seq 16384 superlinear on wasm).
    const factor = tf.tile(tf.exp(logDecay.mul(c)).reshape([1, heads!]), [batch!, 1]).reshape([bh, 1]);
    starts = view(decayScan(view(writes, [bh, n, dk! * dv]), factor, start.reshape([bh, dk! * dv])), [batch!, heads!, n, dk!, dv]);
  }
  const inter = batchMatMul(qDecay ? qc.mul(qDecay) : qc, starts);
  const sum = view(intra.add(inter), [batch!, heads!, n * c, dv]);
  const o = pad > 0 ? sum.slice([0, 0, 0, 0], [-1, -1, seq!, -1]) : sum;
  // Final state from the last chunk's m real tokens only (the padding must not decay it); padded keys are
  // zero, so the whole last chunk can be used with exponents max(m − 1 − s, 0).
  const m = seq! - (n - 1) * c;
  const last = (x: tf.Tensor, cols: number) => takeRows(view(x, [bh, n, cols]), n - 1, 1);
  const lastStart = last(starts, dk! * dv).reshape([batch!, heads!, dk!, dv]);
  const kLast = last(kc, c * dk!).reshape([batch!, heads!, c, dk!]);
  const vLast = last(vc, c * dv).reshape([batch!, heads!, c, dv]);
  let s: tf.Tensor;
  if (logDecay) {
    const exponents = tf.tensor1d(Array.from({ length: c }, (_, i) => Math.max(m - 1 - i, 0)), "float32");
    const kd = decayPower(logDecay, exponents).reshape([1, heads!, c, 1]);
    s = lastStart.mul(decayPower(logDecay, tf.scalar(m)).reshape([1, heads!, 1, 1])).add(batchMatMul(kLast.mul(kd), vLast, true, false));
  } else {
    s = lastStart.add(batchMatMul(kLast, vLast, true, false));
  }
  return { o, s };
}
