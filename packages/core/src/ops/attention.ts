// Dense softmax attention, the one every attnkit package builds on.
//
// Speed: the work runs in query blocks small enough that no [heads, seq, seq] score tensor exists at
// once, and in groups of (batch, head) pairs: one pair at a time on wasm, where 2-D products are 10–40×
// faster than batched ones (unless the pairs are tiny), all pairs at once elsewhere. The backward pass is written out (flash-attention
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
import { addAll } from "./add-all";
import { batchMatMul, prefersMatrixSlices } from "./matmul";
import { visibilityBias, visibleKeyRange, type VisibilityRule } from "./masks";

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
/** Additive score of a hidden key. A row whose best score is below MASKED / 2 has no visible key. */
const MASKED = -1e30;
/** seqQ · seqK · dim below which all (batch, head) pairs go through batched kernels at once on wasm. */
const SMALL_PAIR_WORK = 1 << 18;

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
  /** The user's mask as an additive rank-4 bias (0 keep, MASKED hide); made inside the op's tidy. */
  maskBias: tf.Tensor4D | null;
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

/** `[G, s, d]` view of a `[b, h, s, d]` tensor for a group (a gatherND row: wasm slices read the whole input). */
function groupOf(x: tf.Tensor, group: Group): tf.Tensor3D {
  const [b, h, s, d] = x.shape as [number, number, number, number];
  if (!group) return x.reshape([b * h, s, d]);
  return tf.gatherND(x.reshape([b * h, s * d]), [[group.b * h + group.h]]).reshape([1, s, d]);
}

/** One query block [t0, t1) and its visible key range [k0, k1), with its causal/window bias if any. */
interface Block {
  t0: number;
  t1: number;
  k0: number;
  k1: number;
  visibility: tf.Tensor2D | null;
}

/** The query blocks in order; each block's visibility bias is built when it is used and disposed after. */
function* blocks(plan: Plan): Generator<Block> {
  for (let t0 = 0; t0 < plan.seqQ; t0 += plan.blockRows) {
    const t1 = Math.min(plan.seqQ, t0 + plan.blockRows);
    const [k0, k1] = visibleKeyRange(plan.rule, t0, t1);
    const visibility = k1 > k0 ? visibilityBias(plan.rule, t0, t1, k0, k1, MASKED) : null;
    yield { t0, t1, k0, k1, visibility };
    visibility?.dispose();
  }
}

/** Softmax weights `[G, t1 − t0, k1 − k0]` of one query block over its visible key range. */
function blockWeights(plan: Plan, group: Group, qs: tf.Tensor3D, k: tf.Tensor3D, bias: tf.Tensor4D | null, blk: Block): tf.Tensor3D {
  const { t0, t1, k0, k1 } = blk;
  let logits = batchMatMul(qs.slice([0, t0, 0], [-1, t1 - t0, -1]), k.slice([0, k0, 0], [-1, k1 - k0, -1]), false, true) as tf.Tensor3D;
  // Masks are additive: a hidden key scores MASKED (or less) and gets weight exp(MASKED − max) = 0.
  if (bias) logits = tf.maximum(logits.add(blockOf(bias, plan, group, t0, t1, k0, k1)), MASKED); // −∞ → MASKED
  if (blk.visibility) logits = logits.add(blk.visibility);
  if (plan.maskBias) logits = logits.add(blockOf(plan.maskBias, plan, group, t0, t1, k0, k1));
  const p = tf.softmax(logits) as tf.Tensor3D;
  if (!plan.rowsMayBeEmpty) return p;
  // A row whose keys are all hidden came out uniform: make it zeros.
  return p.mul(tf.greater(logits.max(-1, true), MASKED / 2).cast("float32"));
}

function concatOrOnly(xs: tf.Tensor[], axis: number): tf.Tensor {
  return xs.length === 1 ? xs[0]! : tf.concat(xs, axis);
}

/** Forward pass: output `[b, h, sq, dv]` and, when asked, weights `[b, h, sq, sk]`. */
function forward(plan: Plan, q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, bias: tf.Tensor4D | null): tf.Tensor[] {
  const qs = q.mul(plan.scale);
  const groups = plan.groups.map((group) => ({ group, qg: groupOf(qs, group), kg: groupOf(k, group), vg: groupOf(v, group), rows: [] as tf.Tensor[], wRows: [] as tf.Tensor[] }));
  for (const blk of blocks(plan)) {
    for (const g of groups) {
      const G = g.qg.shape[0];
      if (blk.k1 <= blk.k0) {
        g.rows.push(tf.zeros([G, blk.t1 - blk.t0, plan.dimV]));
        if (plan.returnWeights) g.wRows.push(tf.zeros([G, blk.t1 - blk.t0, plan.seqK]));
        continue;
      }
      const out = tf.tidy(() => {
        const p = blockWeights(plan, g.group, g.qg, g.kg, bias, blk);
        const o = batchMatMul(p, g.vg.slice([0, blk.k0, 0], [-1, blk.k1 - blk.k0, -1]));
        return plan.returnWeights ? [o, p.pad([[0, 0], [0, 0], [blk.k0, plan.seqK - blk.k1]])] : [o];
      });
      g.rows.push(out[0]!);
      if (out[1]) g.wRows.push(out[1]);
    }
  }
  const { batch, heads, seqQ, seqK, dimV } = plan;
  const output = concatOrOnly(groups.map((g) => concatOrOnly(g.rows, 1)), 0).reshape([batch, heads, seqQ, dimV]);
  if (!plan.returnWeights) return [output];
  const weights = concatOrOnly(groups.map((g) => concatOrOnly(g.wRows, 1)), 0).reshape([batch, heads, seqQ, seqK]);
  return [output, weights];
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

function emptyBiasBlock(plan: Plan, bias: tf.Tensor4D, group: Group, rows: number): [number, number, number, number] {
  const [tb, th, tq, tk] = bias.shape;
  return [group ? 1 : tb, group ? 1 : th, tq === 1 ? 1 : rows, tk === 1 ? 1 : plan.seqK];
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
  const groups = plan.groups.map((group) => {
    const qg = groupOf(qs, group);
    const G = qg.shape[0];
    return {
      group,
      qg,
      kg: groupOf(k, group),
      vg: groupOf(v, group),
      dog: groupOf(dOut, group),
      og: groupOf(out, group),
      dwg: dWeights ? groupOf(dWeights, group) : null,
      dk: tf.zeros([G, plan.seqK, plan.dim]) as tf.Tensor,
      dv: tf.zeros([G, plan.seqK, plan.dimV]) as tf.Tensor,
      dqRows: [] as tf.Tensor[],
      biasRows: [] as tf.Tensor4D[],
    };
  });
  for (const blk of blocks(plan)) {
    const { t0, t1, k0, k1 } = blk;
    for (const g of groups) {
      if (k1 <= k0) {
        g.dqRows.push(tf.zeros([g.qg.shape[0], t1 - t0, plan.dim]));
        if (bias) g.biasRows.push(tf.zeros(emptyBiasBlock(plan, bias, g.group, t1 - t0)));
        continue;
      }
      const result = tf.tidy(() => {
        const p = blockWeights(plan, g.group, g.qg, g.kg, bias, blk);
        const kb = g.kg.slice([0, k0, 0], [-1, k1 - k0, -1]);
        const vb = g.vg.slice([0, k0, 0], [-1, k1 - k0, -1]);
        const dob = g.dog.slice([0, t0, 0], [-1, t1 - t0, -1]);
        // dL = P ∘ (dP − rowsum(P ∘ dP)), with rowsum(P ∘ dO·vᵀ) = rowsum(dO ∘ O).
        let dp = batchMatMul(dob, vb, false, true);
        let rowDot = dob.mul(g.og.slice([0, t0, 0], [-1, t1 - t0, -1])).sum(-1, true);
        if (g.dwg) {
          const dwb = g.dwg.slice([0, t0, k0], [-1, t1 - t0, k1 - k0]);
          dp = dp.add(dwb);
          rowDot = rowDot.add(p.mul(dwb).sum(-1, true));
        }
        const dl = p.mul(dp.sub(rowDot)) as tf.Tensor3D;
        const qb = g.qg.slice([0, t0, 0], [-1, t1 - t0, -1]);
        const pad: [number, number][] = [[0, 0], [k0, plan.seqK - k1], [0, 0]];
        const grads: Record<string, tf.Tensor> = {
          dq: batchMatMul(dl, kb).mul(plan.scale),
          // dK = dLᵀ·q and dV = Pᵀ·dO, computed as (qᵀ·dL)ᵀ and (dOᵀ·P)ᵀ: the transposes then touch
          // [dim, keys] matrices instead of the [rows, keys] score block.
          dk: g.dk.add(batchMatMul(qb, dl, true, false).transpose([0, 2, 1]).pad(pad)),
          dv: g.dv.add(batchMatMul(dob, p, true, false).transpose([0, 2, 1]).pad(pad)),
        };
        if (bias) {
          const db = reduceToBias(dl, plan, bias, g.group);
          grads.db = bias.shape[3] === 1 ? db : db.pad([[0, 0], [0, 0], [0, 0], [k0, plan.seqK - k1]]);
        }
        return grads;
      });
      g.dk.dispose();
      g.dv.dispose();
      g.dk = result.dk!;
      g.dv = result.dv!;
      g.dqRows.push(result.dq!);
      if (result.db) g.biasRows.push(result.db as tf.Tensor4D);
    }
  }
  const { batch, heads, seqQ, seqK, dim, dimV } = plan;
  const grads = [
    concatOrOnly(groups.map((g) => concatOrOnly(g.dqRows, 1)), 0).reshape([batch, heads, seqQ, dim]),
    concatOrOnly(groups.map((g) => g.dk), 0).reshape([batch, heads, seqK, dim]),
    concatOrOnly(groups.map((g) => g.dv), 0).reshape([batch, heads, seqK, dimV]),
  ];
  if (bias) grads.push(biasGradient(plan, bias, groups.map((g) => ({ group: g.group, rows: g.biasRows }))));
  return grads;
}

/** Assembles the bias gradient from per-group row blocks, summing groups that share a bias slice. */
function biasGradient(plan: Plan, bias: tf.Tensor4D, parts: { group: Group; rows: tf.Tensor4D[] }[]): tf.Tensor {
  const [tb, th, tq] = bias.shape;
  const slots = new Map<string, tf.Tensor>();
  for (const { group, rows } of parts) {
    const full = tq === 1 ? addAll(rows) : concatOrOnly(rows, 2);
    const key = group ? `${tb === 1 ? 0 : group.b},${th === 1 ? 0 : group.h}` : "all";
    const prev = slots.get(key);
    slots.set(key, prev ? prev.add(full) : full);
  }
  if (slots.has("all")) return slots.get("all")!;
  const byBatch: tf.Tensor[] = [];
  for (let b = 0; b < tb; b++) {
    const byHead: tf.Tensor[] = [];
    for (let h = 0; h < th; h++) byHead.push(slots.get(`${b},${h}`)!);
    byBatch.push(concatOrOnly(byHead, 1));
  }
  return concatOrOnly(byBatch, 0);
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
  // Per-pair 2-D products pay off only when each pair's matrices are big enough to amortise the extra
  // kernels (measured on wasm: a tie at 64×64 scores with dim 64, batched 1.6× faster at dim 16).
  const slices = prefersMatrixSlices() && dims.seqQ * dims.seqK * Math.max(dims.dim, dims.dimV) >= SMALL_PAIR_WORK;
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
    maskBias: null,
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
    if (options.mask) {
      const keep = options.mask.dtype === "bool" ? options.mask : tf.notEqual(options.mask, 0);
      plan.maskBias = toRank4(tf.where(keep, tf.zeros(keep.shape), tf.fill(keep.shape, MASKED)));
    }
    const inputs = bias4 ? [q, k, v, bias4] : [q, k, v];
    const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const save = args.pop() as tf.GradSaveFunc;
      const [tq, tk, tv, tb] = args as tf.Tensor[];
      const results = forward(plan, tq!, tk!, tv!, (tb as tf.Tensor4D | undefined) ?? null);
      const output = results[0]!;
      save([tq!, tk!, tv!, output, plan.maskBias ?? tf.zeros([0]), ...(tb ? [tb] : [])]);
      const value = plan.returnWeights ? tf.concat([output, results[1]!], -1) : output;
      return {
        value,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [sq, sk, sv, so, sm, sb] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor4D, tf.Tensor4D | undefined];
          const dOut = plan.returnWeights ? dy.slice([0, 0, 0, 0], [-1, -1, -1, plan.dimV]) : dy;
          const dW = plan.returnWeights ? dy.slice([0, 0, 0, plan.dimV], [-1, -1, -1, plan.seqK]) : null;
          const backPlan = { ...plan, maskBias: sm.size > 0 ? sm : null };
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
