// What the MoE and AttentionMoEBlock layers share: options and their checks, the expert and router
// weights, one routing + experts step, and the recorder that keeps the last call's losses and statistics.
import * as tf from "@tensorflow/tfjs";

type Initializer = ReturnType<typeof tf.initializers.zeros>;
import { ACTIVATIONS, OptionError, ShapeError, assertBoolean, assertInteger, assertNumber, assertOneOf, shapeString, type Activation } from "@attnkit/core";
import { expertCapacity } from "../ops/dispatch";
import { routerLogits } from "../ops/gate-inputs";
import { graphGate, type MixFn } from "../ops/graph-gate";
import { loadBalancingLoss, routerZLoss } from "../ops/losses";
import { sparseMoe } from "../ops/moe-forward";
import { routingEntropy } from "../ops/routing-stats";
import { assignmentMask, selectExperts } from "../ops/select";
import { attentionMix, type HeadReduce } from "../ops/attention-gate";
import { similarityMix } from "../ops/similarity-gate";

export type Router = "softmax" | "similarity" | "attention";

/** Options of the MoE part; every one has a default here. */
export interface MoeOptions {
  /** Hidden width of each expert MLP (required). */
  hiddenUnits: number;
  numExperts?: number; // 8
  topK?: number; // 2
  router?: Router; // 'softmax'
  /** Expert queue length = ceil(capacityFactor·tokens·topK/experts); null = never drop. Default 1.25 (Switch). */
  capacityFactor?: number | null;
  activation?: Activation; // 'gelu-tanh'
  renormalize?: boolean; // true
  /** Similarity router: τ (default 1), kind (default 'dot'), causal (default false), learned W_s (default false). */
  temperature?: number;
  similarity?: "dot" | "cosine";
  causal?: boolean;
  learnSimilarity?: boolean;
  /** Graph routers: where the combine weights come from, and what is mixed. */
  weightsFrom?: "mixed" | "own";
  mixing?: "probs" | "logits";
  /** Attention router: head reduction (default 'mean') and the head for 'single'. */
  headReduce?: HeadReduce;
  head?: number;
  /** Weight of the Switch load-balancing loss in the training loss (default 0.01). */
  balanceLossWeight?: number;
  /** Weight of the router z-loss in the training loss (default 0.001). */
  zLossWeight?: number;
  /** Seed of the weight initialisers (default: random). */
  seed?: number | null;
}

export type ResolvedMoeOptions = Required<Omit<MoeOptions, "capacityFactor" | "seed">> & { capacityFactor: number | null; seed: number | null };

export const MOE_OPTION_KEYS = [
  "hiddenUnits",
  "numExperts",
  "topK",
  "router",
  "capacityFactor",
  "activation",
  "renormalize",
  "temperature",
  "similarity",
  "causal",
  "learnSimilarity",
  "weightsFrom",
  "mixing",
  "headReduce",
  "head",
  "balanceLossWeight",
  "zLossWeight",
  "seed",
] as const;

export function resolveMoeOptions(fn: string, o: MoeOptions): ResolvedMoeOptions {
  if (o === null || typeof o !== "object") throw new OptionError(`${fn}: options with hiddenUnits are required`);
  const r: ResolvedMoeOptions = {
    hiddenUnits: o.hiddenUnits,
    numExperts: o.numExperts ?? 8,
    topK: o.topK ?? 2,
    router: o.router ?? "softmax",
    capacityFactor: o.capacityFactor === undefined ? 1.25 : o.capacityFactor,
    activation: o.activation ?? "gelu-tanh",
    renormalize: o.renormalize ?? true,
    temperature: o.temperature ?? 1,
    similarity: o.similarity ?? "dot",
    causal: o.causal ?? false,
    learnSimilarity: o.learnSimilarity ?? false,
    weightsFrom: o.weightsFrom ?? "mixed",
    mixing: o.mixing ?? "probs",
    headReduce: o.headReduce ?? "mean",
    head: o.head ?? 0,
    balanceLossWeight: o.balanceLossWeight ?? 0.01,
    zLossWeight: o.zLossWeight ?? 0.001,
    seed: o.seed ?? null,
  };
  assertInteger(fn, "hiddenUnits", r.hiddenUnits, { min: 1 });
  assertInteger(fn, "numExperts", r.numExperts, { min: 1 });
  assertInteger(fn, "topK", r.topK, { min: 1, max: r.numExperts });
  assertOneOf(fn, "router", r.router, ["softmax", "similarity", "attention"] as const);
  if (r.capacityFactor !== null) assertNumber(fn, "capacityFactor", r.capacityFactor, { min: 0, minExclusive: true });
  assertOneOf(fn, "activation", r.activation, ACTIVATIONS);
  assertBoolean(fn, "renormalize", r.renormalize);
  assertNumber(fn, "temperature", r.temperature, { min: 0, minExclusive: true });
  assertOneOf(fn, "similarity", r.similarity, ["dot", "cosine"] as const);
  assertBoolean(fn, "causal", r.causal);
  assertBoolean(fn, "learnSimilarity", r.learnSimilarity);
  assertOneOf(fn, "weightsFrom", r.weightsFrom, ["mixed", "own"] as const);
  assertOneOf(fn, "mixing", r.mixing, ["probs", "logits"] as const);
  assertOneOf(fn, "headReduce", r.headReduce, ["mean", "single"] as const);
  assertInteger(fn, "head", r.head, { min: 0 });
  assertNumber(fn, "balanceLossWeight", r.balanceLossWeight, { min: 0 });
  assertNumber(fn, "zLossWeight", r.zLossWeight, { min: 0 });
  if (r.seed !== null) assertInteger(fn, "seed", r.seed);
  return r;
}

export interface MoeWeights {
  gateKernel: tf.LayerVariable;
  gateBias: tf.LayerVariable;
  /** One variable per expert and weight: slicing [E, d, f] tensors per call is slow on wasm. */
  w1: tf.LayerVariable[];
  b1: tf.LayerVariable[];
  w2: tf.LayerVariable[];
  b2: tf.LayerVariable[];
  wSim: tf.LayerVariable | null;
}

const seeded = (seed: number | null, k: number) => (seed === null ? {} : { seed: seed + k });

/** Adds the router and expert weights to `layer` (names: gate_kernel, gate_bias, expert<e>_w1/_b1/_w2/_b2, w_sim). */
export function addMoeWeights(layer: tf.layers.Layer, dModel: number, o: ResolvedMoeOptions): MoeWeights {
  const e = o.numExperts;
  const f = o.hiddenUnits;
  const lim1 = Math.sqrt(6 / (dModel + f));
  const experts = Array.from({ length: e }, (_, i) => i);
  const add = (name: string, shape: number[], init: Initializer) =>
    (layer as unknown as { addWeight: (n: string, s: number[], d: "float32", i: Initializer) => tf.LayerVariable }).addWeight(name, shape, "float32", init);
  return {
    gateKernel: add("gate_kernel", [dModel, e], tf.initializers.glorotUniform(seeded(o.seed, 1))),
    gateBias: add("gate_bias", [e], tf.initializers.zeros()),
    w1: experts.map((i) => add(`expert${i}_w1`, [dModel, f], tf.initializers.randomUniform({ minval: -lim1, maxval: lim1, ...seeded(o.seed, 100 + i) }))),
    b1: experts.map((i) => add(`expert${i}_b1`, [f], tf.initializers.zeros())),
    w2: experts.map((i) => add(`expert${i}_w2`, [f, dModel], tf.initializers.randomUniform({ minval: -lim1, maxval: lim1, ...seeded(o.seed, 200 + i) }))),
    b2: experts.map((i) => add(`expert${i}_b2`, [dModel], tf.initializers.zeros())),
    wSim: o.router === "similarity" && o.learnSimilarity ? add("w_sim", [dModel, dModel], tf.initializers.identity({})) : null,
  };
}

/** Checks a routing attention `[b, heads, T, T]` or `[b, T, T]` against x `[b, T, d]`. */
export function checkRoutingAttention(fn: string, x: tf.Tensor, attention: tf.Tensor, o: ResolvedMoeOptions): void {
  const [b, t] = x.shape as [number, number];
  const okHeads = attention.rank === 4 && attention.shape[0] === b && attention.shape[2] === t && attention.shape[3] === t;
  const okFlat = attention.rank === 3 && attention.shape[0] === b && attention.shape[1] === t && attention.shape[2] === t;
  if (!okHeads && !okFlat) throw new ShapeError(`${fn}: attention must have shape [${b}, heads, ${t}, ${t}] or [${b}, ${t}, ${t}] to match x ${shapeString(x.shape)}, got ${shapeString(attention.shape)}`);
  if (o.headReduce === "single" && okHeads && o.head >= attention.shape[1]!) {
    throw new OptionError(`${fn}: head must be an integer in [0, ${attention.shape[1]! - 1}], got ${o.head}`);
  }
}

const BASE_KEYS = ["name", "trainable", "dtype", "inputShape", "batchInputShape", "batchSize", "inputDType"];
// Added by tf.serialization when a layer is rebuilt from its config; not an option.
const IGNORED_KEYS = ["customObjects"];

/** Splits tf.layers' own arguments (name, trainable, dtype, input shapes) from the layer's options. */
export function splitLayerArgs<T extends object>(args: T): { base: Record<string, unknown>; rest: Record<string, unknown> } {
  const base: Record<string, unknown> = {};
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(args)) {
    if (v === undefined || IGNORED_KEYS.includes(k)) continue;
    (BASE_KEYS.includes(k) ? base : rest)[k] = v;
  }
  return { base, rest };
}

/**
 * A layer input is only trusted to be attention-like: negative entries clamp to 0 and rows renormalise
 * to sum to 1 (a no-op on real attention; zero rows stay zero and give zero combine weights).
 */
function rowWeights(a: tf.Tensor): tf.Tensor {
  const pos = tf.relu(a);
  return pos.div(tf.maximum(pos.sum(-1, true), 1e-30));
}

export interface StepStats {
  balanceLoss: tf.Scalar;
  zLoss: tf.Scalar;
  /** `[experts]`: fraction of the tokens·topK assignments each expert was chosen for (before capacity). */
  load: tf.Tensor;
  entropy: tf.Scalar;
  /** Assignments dropped by the capacity limit. */
  dropped: tf.Scalar;
}

/**
 * One MoE step on `x: [b, T, d]`: route, dispatch to the experts with capacity, combine. Returns the
 * experts' contribution (no residual) and the statistics. Call inside a tidy.
 */
export function moeStep(x: tf.Tensor, w: MoeWeights, o: ResolvedMoeOptions, attention: tf.Tensor | null): { output: tf.Tensor; stats: StepStats } {
  const [b, t, d] = x.shape as [number, number, number];
  const e = o.numExperts;
  const k = o.topK;
  const logits = routerLogits(x, w.gateKernel.read(), w.gateBias.read());
  let combine: tf.Tensor;
  let indices: tf.Tensor;
  let selectProbs: tf.Tensor;
  const graph = { weightsFrom: o.weightsFrom, mixing: o.mixing };
  if (o.router === "softmax") {
    selectProbs = tf.softmax(logits);
    ({ combine, indices } = selectExperts(selectProbs, selectProbs, k, o.renormalize));
  } else {
    const sim = { temperature: o.temperature, kind: o.similarity, causal: o.causal, wSim: w.wSim?.read() };
    const mix: MixFn =
      o.router === "similarity"
        ? (v) => similarityMix(x, v, sim, false).output
        : attentionMix(rowWeights(attention!), attention!.rank === 4, o.headReduce, o.head);
    const g = graphGate(logits, mix, k, o.renormalize, graph);
    ({ combine, indices } = g);
    selectProbs = g.mixedProbs;
  }
  const n = b * t;
  const idx = indices.reshape([n, k]);
  const probs = selectProbs.reshape([n, e]);
  const capacity = expertCapacity(n, e, k, o.capacityFactor);
  const read = (vs: tf.LayerVariable[]) => vs.map((v) => v.read());
  const experts = { w1: read(w.w1), b1: read(w.b1), w2: read(w.w2), b2: read(w.b2) };
  const { output, kept } = sparseMoe(x.reshape([n, d]), experts, combine.reshape([n, e]), idx, capacity, o.activation);
  const stats: StepStats = {
    // P_e from the probabilities the experts were chosen by (research notes §3.5, a choice).
    balanceLoss: loadBalancingLoss(probs, idx),
    zLoss: routerZLoss(logits.reshape([n, e])),
    load: assignmentMask(idx, e).sum(0).div(n * k),
    entropy: routingEntropy(probs),
    dropped: tf.sub(n * k, kept.sum()) as tf.Scalar,
  };
  return { output: output.reshape([b, t, d]), stats };
}

export interface RoutingStats {
  /** Switch load-balancing loss (1 = uniform). */
  balanceLoss: number;
  zLoss: number;
  /** Fraction of assignments per expert (sums to 1). */
  load: number[];
  /** Mean routing entropy (nats) of the selection probabilities. */
  entropy: number;
  /** Assignments dropped by the capacity limit (those tokens pass through the residual only). */
  dropped: number;
  /** Tokens · topK assignments of the call. */
  assignments: number;
}

/**
 * Keeps the last call's statistics (tensors, owned here and disposed on the next call or on the layer's
 * dispose) and hands the weighted auxiliary loss to `model.fit` through the layer's `addLoss`.
 */
export class RoutingRecorder {
  private stats: StepStats | null = null;
  private assignments = 0;

  constructor(private readonly o: ResolvedMoeOptions) {}

  /** Registers the auxiliary loss once (from `build`): the training loop calls it after the forward pass. */
  register(layer: tf.layers.Layer): void {
    if (this.o.balanceLossWeight === 0 && this.o.zLossWeight === 0) return;
    layer.addLoss(() => this.auxLoss());
  }

  record(stats: StepStats, assignments: number): void {
    const old = this.stats;
    this.stats = stats;
    this.assignments = assignments;
    for (const t of Object.values(stats)) tf.keep(t as tf.Tensor);
    if (old) tf.dispose(Object.values(old) as tf.Tensor[]);
  }

  /** balanceLossWeight·balance + zLossWeight·z of the last call (0 before any call). */
  auxLoss(): tf.Scalar {
    if (!this.stats) return tf.scalar(0);
    return tf.tidy(() => this.stats!.balanceLoss.mul(this.o.balanceLossWeight).add(this.stats!.zLoss.mul(this.o.zLossWeight)) as tf.Scalar);
  }

  /** The last call's losses, as tensors (owned by the layer; do not dispose), or null before a call. */
  get tensors(): StepStats | null {
    return this.stats;
  }

  async read(): Promise<RoutingStats | null> {
    const s = this.stats;
    if (!s) return null;
    const [balanceLoss, zLoss, load, entropy, dropped] = await Promise.all([s.balanceLoss.data(), s.zLoss.data(), s.load.data(), s.entropy.data(), s.dropped.data()]);
    return { balanceLoss: balanceLoss[0]!, zLoss: zLoss[0]!, load: Array.from(load), entropy: entropy[0]!, dropped: Math.round(dropped[0]!), assignments: this.assignments };
  }

  dispose(): void {
    if (this.stats) tf.dispose(Object.values(this.stats) as tf.Tensor[]);
    this.stats = null;
  }
}
