// Dense softmax attention, the one every attnkit package builds on.
//
// Speed: the work runs in query blocks small enough that no [heads, seq, seq] score tensor exists at
// once, and in groups of (batch, head) pairs: one pair at a time on wasm, where 2-D products are 10–40×
// faster than batched ones, all pairs at once elsewhere. The backward pass is written out (flash-attention
// style: P is recomputed per block, never stored) so that it takes the same fast products.
import * as tf from "@tensorflow/tfjs";
import { OptionError } from "../errors";
import {
  assertBoolean,
  assertBroadcastable,
  assertInteger,
  assertKnownOptions,
  assertTensor,
  checkAttentionInputs,
  resolveScale,
  type AttentionDims,
} from "../validate";
import { batchMatMul, prefersMatrixSlices } from "./matmul";
import { visibilityMask, visibleKeyRange, type VisibilityRule } from "./masks";

export interface ScaledDotProductAttentionOptions {
  /** Query i sees keys up to position i + seqK − seqQ (queries aligned to the end of the keys). */
  causal?: boolean;
  /** 1/true = keep; broadcastable to `[b, h, seqQ, seqK]`. */
  mask?: tf.Tensor;
  /** Added to the scaled scores; broadcastable to `[b, h, seqQ, seqK]`; −Infinity entries count as masked. */
  bias?: tf.Tensor;
  /** Multiplies q·kᵀ; default `dim ** -0.5`. */
  scale?: number | null;
  /** Sliding window w (implies causal): key s is visible to query t iff t − w < s ≤ t. */
  window?: number;
  /** Also return the attention weights `[b, h, seqQ, seqK]`. */
  returnWeights?: boolean;
  /**
   * Query rows processed per block (default: as many as fit a 16 MB score block on CPU backends,
   * 128 MB on GPUs). Smaller blocks use less memory; the result does not depend on it.
   */
  blockRows?: number;
}

export interface AttentionWithWeights {
  output: tf.Tensor4D;
  weights: tf.Tensor4D;
}

const NAME = "scaledDotProductAttention";
const OPTION_KEYS = ["causal", "mask", "bias", "scale", "window", "returnWeights", "blockRows"] as const;
const MASKED = -1e30;

/** Elements of one score block: 16 MB of float32 on CPU backends, 128 MB on GPUs. */
function scoreBudget(): number {
  const backend = tf.getBackend();
  return backend === "wasm" || backend === "cpu" ? 1 << 22 : 1 << 25;
}

/** A (batch, head) group: one pair, or every pair at once (`null`). */
type Group = { b: number; h: number } | null;

interface Plan extends AttentionDims {
  scale: number;
  rule: VisibilityRule;
  /** Boolean rank-4 keep mask; set inside the op's tidy (and handed to the backward pass through `save`). */
  mask: tf.Tensor4D | null;
  /** True when a row can end up with no visible key (explicit mask, −∞ bias, or more queries than keys). */
  rowsMayBeEmpty: boolean;
  groups: Group[];
  blockRows: number;
  returnWeights: boolean;
}

/** Slice of a broadcastable rank-4 tensor for a group and a block, shaped `[G or 1, q or 1, k or 1]`. */
function blockOf(t: tf.Tensor4D, plan: Plan, group: Group, t0: number, t1: number, k0: number, k1: number): tf.Tensor3D {
  const [tb, th, tq, tk] = t.shape;
  const qa = tq === 1 ? 0 : t0;
  const ql = tq === 1 ? 1 : t1 - t0;
  const ka = tk === 1 ? 0 : k0;
  const kl = tk === 1 ? 1 : k1 - k0;
  if (group) {
    const s = t.slice([tb === 1 ? 0 : group.b, th === 1 ? 0 : group.h, qa, ka], [1, 1, ql, kl]);
    return s.reshape([1, ql, kl]);
  }
  const s = t.slice([0, 0, qa, ka], [tb, th, ql, kl]);
  if (tb === 1 && th === 1) return s.reshape([1, ql, kl]);
  return tf.broadcastTo(s, [plan.batch, plan.heads, ql, kl]).reshape([plan.batch * plan.heads, ql, kl]);
}

/** `[G, s, d]` view of a `[b, h, s, d]` tensor for a group. */
function groupOf(x: tf.Tensor, plan: Plan, group: Group): tf.Tensor3D {
  const [b, h, s, d] = x.shape as [number, number, number, number];
  if (!group) return x.reshape([b * h, s, d]);
  return x.slice([group.b, group.h, 0, 0], [1, 1, s, d]).reshape([1, s, d]);
}

/** Softmax weights `[G, t1 − t0, k1 − k0]` of one query block over its visible key range [k0, k1). */
function blockWeights(
  plan: Plan,
  group: Group,
  qs: tf.Tensor3D,
  k: tf.Tensor3D,
  bias: tf.Tensor4D | null,
  t0: number,
  t1: number,
  k0: number,
  k1: number,
): tf.Tensor3D {
  const kb = k.slice([0, k0, 0], [-1, k1 - k0, -1]);
  let logits = batchMatMul(qs.slice([0, t0, 0], [-1, t1 - t0, -1]), kb, false, true) as tf.Tensor3D;
  let keep: tf.Tensor | null = visibilityMask(plan.rule, t0, t1, k0, k1);
  if (bias) {
    const b = blockOf(bias, plan, group, t0, t1, k0, k1);
    logits = logits.add(b);
    const finite = tf.notEqual(b, -Infinity);
    keep = keep ? tf.logicalAnd(keep, finite) : finite;
  }
  if (plan.mask) {
    const m = blockOf(plan.mask, plan, group, t0, t1, k0, k1);
    keep = keep ? tf.logicalAnd(keep, m) : m;
  }
  if (!keep) return tf.softmax(logits) as tf.Tensor3D;
  let p = tf.softmax(tf.where(keep, logits, tf.fill(logits.shape, MASKED))) as tf.Tensor3D;
  if (plan.rowsMayBeEmpty) {
    // A row whose keys are all masked came out uniform: make it zeros.
    p = p.mul(tf.any(keep, -1, true).cast("float32"));
  }
  return p;
}

function blockStarts(plan: Plan): number[] {
  const starts: number[] = [];
  for (let t = 0; t < plan.seqQ; t += plan.blockRows) starts.push(t);
  return starts;
}

/** Forward pass: output `[b, h, sq, dv]` and, when asked, weights `[b, h, sq, sk]`. */
function forward(plan: Plan, q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, bias: tf.Tensor4D | null): tf.Tensor[] {
  const qs = q.mul(plan.scale);
  const outs: tf.Tensor[] = [];
  const weights: tf.Tensor[] = [];
  for (const group of plan.groups) {
    const qg = groupOf(qs, plan, group);
    const kg = groupOf(k, plan, group);
    const vg = groupOf(v, plan, group);
    const G = qg.shape[0];
    const rows: tf.Tensor[] = [];
    const wRows: tf.Tensor[] = [];
    for (const t0 of blockStarts(plan)) {
      const t1 = Math.min(plan.seqQ, t0 + plan.blockRows);
      const [k0, k1] = visibleKeyRange(plan.rule, t0, t1);
      if (k1 <= k0) {
        rows.push(tf.zeros([G, t1 - t0, plan.dimV]));
        if (plan.returnWeights) wRows.push(tf.zeros([G, t1 - t0, plan.seqK]));
        continue;
      }
      const block = tf.tidy(() => {
        const p = blockWeights(plan, group, qg, kg, bias, t0, t1, k0, k1);
        const o = batchMatMul(p, vg.slice([0, k0, 0], [-1, k1 - k0, -1]));
        return plan.returnWeights ? [o, p.pad([[0, 0], [0, 0], [k0, plan.seqK - k1]])] : [o];
      });
      rows.push(block[0]!);
      if (block[1]) wRows.push(block[1]);
    }
    outs.push(rows.length === 1 ? rows[0]! : tf.concat(rows, 1));
    if (plan.returnWeights) weights.push(wRows.length === 1 ? wRows[0]! : tf.concat(wRows, 1));
  }
  const { batch, heads, seqQ, seqK, dimV } = plan;
  const output = (outs.length === 1 ? outs[0]! : tf.concat(outs, 0)).reshape([batch, heads, seqQ, dimV]);
  if (!plan.returnWeights) return [output];
  const w = (weights.length === 1 ? weights[0]! : tf.concat(weights, 0)).reshape([batch, heads, seqQ, seqK]);
  return [output, w];
}

/** Gradient of one block's contribution to a broadcast bias, reduced to the bias's slice shape. */
function reduceToBias(dl: tf.Tensor3D, plan: Plan, bias: tf.Tensor4D, group: Group): tf.Tensor4D {
  const [tb, th, tq, tk] = bias.shape;
  const [, rows, cols] = dl.shape;
  let g = (group ? dl.reshape([1, 1, rows, cols]) : dl.reshape([plan.batch, plan.heads, rows, cols])) as tf.Tensor4D;
  const axes: number[] = [];
  if (!group && tb === 1 && plan.batch > 1) axes.push(0);
  if (!group && th === 1 && plan.heads > 1) axes.push(1);
  if (tq === 1) axes.push(2);
  if (tk === 1) axes.push(3);
  if (axes.length) g = g.sum(axes, true) as tf.Tensor4D;
  return g;
}

/** Backward pass: gradients for q, k, v (and bias), recomputing the weights block by block. */
function backward(
  plan: Plan,
  dOut: tf.Tensor,
  dWeights: tf.Tensor | null,
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  out: tf.Tensor,
  bias: tf.Tensor4D | null,
): tf.Tensor[] {
  const qs = q.mul(plan.scale);
  const dq: tf.Tensor[] = [];
  const dk: tf.Tensor[] = [];
  const dv: tf.Tensor[] = [];
  // Bias gradient slots, one per distinct (batch, head) slice of the bias.
  const biasSlots = new Map<string, tf.Tensor4D>();
  for (const group of plan.groups) {
    const qg = groupOf(qs, plan, group);
    const kg = groupOf(k, plan, group);
    const vg = groupOf(v, plan, group);
    const dog = groupOf(dOut, plan, group);
    const og = groupOf(out, plan, group);
    const dwg = dWeights ? groupOf(dWeights, plan, group) : null;
    const G = qg.shape[0];
    let dkAcc: tf.Tensor = tf.zeros([G, plan.seqK, plan.dim]);
    let dvAcc: tf.Tensor = tf.zeros([G, plan.seqK, plan.dimV]);
    const dqRows: tf.Tensor[] = [];
    const biasRows: tf.Tensor4D[] = [];
    for (const t0 of blockStarts(plan)) {
      const t1 = Math.min(plan.seqQ, t0 + plan.blockRows);
      const [k0, k1] = visibleKeyRange(plan.rule, t0, t1);
      if (k1 <= k0) {
        dqRows.push(tf.zeros([G, t1 - t0, plan.dim]));
        if (bias) biasRows.push(tf.zeros(emptyBiasBlock(plan, bias, group, t1 - t0)));
        continue;
      }
      const result = tf.tidy(() => {
        const p = blockWeights(plan, group, qg, kg, bias, t0, t1, k0, k1);
        const kb = kg.slice([0, k0, 0], [-1, k1 - k0, -1]);
        const vb = vg.slice([0, k0, 0], [-1, k1 - k0, -1]);
        const dob = dog.slice([0, t0, 0], [-1, t1 - t0, -1]);
        // dL = P ∘ (dP − rowsum(P ∘ dP)), with rowsum(P ∘ dO·vᵀ) = rowsum(dO ∘ O).
        let dp = batchMatMul(dob, vb, false, true);
        let rowDot = dob.mul(og.slice([0, t0, 0], [-1, t1 - t0, -1])).sum(-1, true);
        if (dwg) {
          const dwb = dwg.slice([0, t0, k0], [-1, t1 - t0, k1 - k0]);
          dp = dp.add(dwb);
          rowDot = rowDot.add(p.mul(dwb).sum(-1, true));
        }
        const dl = p.mul(dp.sub(rowDot)) as tf.Tensor3D;
        const qb = qg.slice([0, t0, 0], [-1, t1 - t0, -1]);
        const pad: [number, number][] = [[0, 0], [k0, plan.seqK - k1], [0, 0]];
        const out: Record<string, tf.Tensor> = {
          dq: batchMatMul(dl, kb).mul(plan.scale),
          dk: dkAcc.add(batchMatMul(dl, qb, true, false).pad(pad)),
          dv: dvAcc.add(batchMatMul(p, dob, true, false).pad(pad)),
        };
        if (bias) {
          const g = reduceToBias(dl, plan, bias, group);
          out.db = bias.shape[3] === 1 ? g : g.pad([[0, 0], [0, 0], [0, 0], [k0, plan.seqK - k1]]);
        }
        return out;
      });
      dkAcc.dispose();
      dvAcc.dispose();
      dkAcc = result.dk!;
      dvAcc = result.dv!;
      dqRows.push(result.dq!);
      if (result.db) biasRows.push(result.db as tf.Tensor4D);
    }
    dq.push(dqRows.length === 1 ? dqRows[0]! : tf.concat(dqRows, 1));
    dk.push(dkAcc);
    dv.push(dvAcc);
    if (bias) {
      const full = bias.shape[2] === 1 ? tf.addN(biasRows) : biasRows.length === 1 ? biasRows[0]! : tf.concat(biasRows, 2);
      const key = group ? `${bias.shape[0] === 1 ? 0 : group.b},${bias.shape[1] === 1 ? 0 : group.h}` : "all";
      const prev = biasSlots.get(key);
      biasSlots.set(key, (prev ? prev.add(full) : full) as tf.Tensor4D);
    }
  }
  const { batch, heads, seqQ, seqK, dim, dimV } = plan;
  const cat = (xs: tf.Tensor[], shape: number[]) => (xs.length === 1 ? xs[0]! : tf.concat(xs, 0)).reshape(shape);
  const grads = [cat(dq, [batch, heads, seqQ, dim]), cat(dk, [batch, heads, seqK, dim]), cat(dv, [batch, heads, seqK, dimV])];
  if (bias) {
    const [tb, th] = bias.shape;
    if (biasSlots.has("all")) {
      grads.push(biasSlots.get("all")!);
    } else {
      const byBatch: tf.Tensor[] = [];
      for (let b = 0; b < tb; b++) {
        const byHead: tf.Tensor[] = [];
        for (let h = 0; h < th; h++) byHead.push(biasSlots.get(`${b},${h}`)!);
        byBatch.push(byHead.length === 1 ? byHead[0]! : tf.concat(byHead, 1));
      }
      grads.push(byBatch.length === 1 ? byBatch[0]! : tf.concat(byBatch, 0));
    }
  }
  return grads;
}

function emptyBiasBlock(plan: Plan, bias: tf.Tensor4D, group: Group, rows: number): [number, number, number, number] {
  const [tb, th, tq, tk] = bias.shape;
  return [group ? 1 : tb, group ? 1 : th, tq === 1 ? 1 : rows, tk === 1 ? 1 : plan.seqK];
}

function toRank4(t: tf.Tensor): tf.Tensor4D {
  return (t.rank === 4 ? t : t.reshape([...new Array(4 - t.rank).fill(1), ...t.shape])) as tf.Tensor4D;
}

function makePlan(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: ScaledDotProductAttentionOptions): Plan {
  assertKnownOptions(NAME, options, OPTION_KEYS);
  const dims = checkAttentionInputs(NAME, q, k, v);
  const scale = resolveScale(NAME, options.scale, dims.dim ** -0.5);
  if (options.causal !== undefined) assertBoolean(NAME, "causal", options.causal);
  if (options.returnWeights !== undefined) assertBoolean(NAME, "returnWeights", options.returnWeights);
  let window: number | null = null;
  if (options.window !== undefined && options.window !== null) {
    assertInteger(NAME, "window", options.window, { min: 1 });
    if (options.causal === false) throw new OptionError(`${NAME}: window implies causal attention, got causal: false with window ${options.window}`);
    window = options.window;
  }
  const causal = options.causal === true || window !== null;
  const target = [dims.batch, dims.heads, dims.seqQ, dims.seqK];
  const hasBias = options.bias !== undefined && options.bias !== null;
  if (hasBias) {
    assertTensor(NAME, "bias", options.bias);
    if (options.bias.dtype !== "float32") throw new OptionError(`${NAME}: bias must be float32, got ${options.bias.dtype}`);
    assertBroadcastable(NAME, "bias", options.bias, target);
  }
  const hasMask = options.mask !== undefined && options.mask !== null;
  if (hasMask) {
    assertTensor(NAME, "mask", options.mask);
    assertBroadcastable(NAME, "mask", options.mask, target);
  }
  const slices = prefersMatrixSlices();
  const groups: Group[] = [];
  if (slices) for (let b = 0; b < dims.batch; b++) for (let h = 0; h < dims.heads; h++) groups.push({ b, h });
  else groups.push(null);
  const pairs = slices ? 1 : dims.batch * dims.heads;
  if (options.blockRows !== undefined) assertInteger(NAME, "blockRows", options.blockRows, { min: 1 });
  const fitting = Math.floor(scoreBudget() / (pairs * Math.max(1, dims.seqK)));
  const blockRows = Math.max(1, Math.min(dims.seqQ, options.blockRows ?? fitting));
  return {
    ...dims,
    scale,
    rule: { causal, window, offset: dims.seqK - dims.seqQ, seqK: dims.seqK },
    mask: null,
    rowsMayBeEmpty: hasMask || hasBias || (causal && dims.seqQ > dims.seqK),
    groups,
    blockRows,
    returnWeights: options.returnWeights === true,
  };
}

/**
 * softmax(scale·q·kᵀ + bias, masked)·v. `q, k: [b, h, s, d]`, `v: [b, h, sk, dv]` → `[b, h, sq, dv]`.
 * A query row with no visible key gives zeros. Differentiable with respect to q, k, v and bias.
 */
export function scaledDotProductAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  options?: ScaledDotProductAttentionOptions & { returnWeights?: false },
): tf.Tensor4D;
export function scaledDotProductAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  options: ScaledDotProductAttentionOptions & { returnWeights: true },
): AttentionWithWeights;
export function scaledDotProductAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  options?: ScaledDotProductAttentionOptions,
): tf.Tensor4D | AttentionWithWeights;
export function scaledDotProductAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  options: ScaledDotProductAttentionOptions = {},
): tf.Tensor4D | AttentionWithWeights {
  const plan = makePlan(q, k, v, options);
  return tf.tidy(() => {
    const bias4 = options.bias ? toRank4(options.bias) : null;
    if (options.mask) plan.mask = toRank4(options.mask.dtype === "bool" ? options.mask : tf.notEqual(options.mask, 0));
    const inputs = bias4 ? [q, k, v, bias4] : [q, k, v];
    const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const save = args.pop() as tf.GradSaveFunc;
      const [tq, tk, tv, tb] = args as tf.Tensor[];
      const results = forward(plan, tq!, tk!, tv!, (tb as tf.Tensor4D | undefined) ?? null);
      const output = results[0]!;
      save([tq!, tk!, tv!, output, plan.mask ?? tf.zeros([0]), ...(tb ? [tb] : [])]);
      const value = plan.returnWeights ? tf.concat([output, results[1]!], -1) : output;
      return {
        value,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [sq, sk, sv, so, sm, sb] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor4D, tf.Tensor4D | undefined];
          const dOut = plan.returnWeights ? dy.slice([0, 0, 0, 0], [-1, -1, -1, plan.dimV]) : dy;
          const dW = plan.returnWeights ? dy.slice([0, 0, 0, plan.dimV], [-1, -1, -1, plan.seqK]) : null;
          const backPlan = { ...plan, mask: sm.size > 0 ? sm : null };
          return backward(backPlan, dOut, dW, sq, sk, sv, so, sb ?? null);
        },
      };
    });
    const value = op(...inputs);
    if (!plan.returnWeights) return value as tf.Tensor4D;
    const output = value.slice([0, 0, 0, 0], [-1, -1, -1, plan.dimV]) as tf.Tensor4D;
    const weights = value.slice([0, 0, 0, plan.dimV], [-1, -1, -1, plan.seqK]) as tf.Tensor4D;
    return { output, weights } as unknown as tf.Tensor4D;
  }) as tf.Tensor4D | AttentionWithWeights;
}
