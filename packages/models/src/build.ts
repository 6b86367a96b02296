// defineModel: ModelSpec → tf.LayersModel. Layers get stable names (`block{i}_attn`, ...), which
// generation and loadModel use to find them again. The spec is stored in the model's user-defined
// metadata, so it is saved with the weights.
import * as tf from "@tensorflow/tfjs";
import { GatedDeltaNet, LightningAttention, LinearAttention, StillHybridAttention, TokenHybridAttention } from "@attnkit/hybrid-attention";
import { LandmarkAttention } from "@attnkit/landmark";
import { MoE } from "@attnkit/moe-routing";
import { BlockRoutingAttention } from "@attnkit/routing-attention";
import { TempScaleAttention } from "@attnkit/temperature-softmax";
import { BaseConv } from "./layers/base-conv";
import { FeedForward } from "./layers/feed-forward";
import { PositionEmbedding } from "./layers/position-embedding";
import { RMSNorm } from "./layers/rms-norm";
import { SelfAttention } from "./layers/self-attention";
import { TokenEmbedding } from "./layers/token-embedding";
import { parseModelSpec, resolveLayers, type AttentionSpec, type FfnSpec, type ModelSpec, type TextModelSpec } from "./spec";
import { defineVisionModel } from "./vision";

/** Key of the spec in the model's user-defined metadata. */
export const SPEC_METADATA_KEY = "attnkitModelSpec";

/** Names of the layers of block i (and of the shared ones). */
export const layerNames = {
  embedding: "token_embedding",
  positions: "position_embedding",
  finalNorm: "final_norm",
  head: "lm_head",
  pooled: "mean_pool",
  attnNorm: (i: number) => `block${i}_attn_norm`,
  attn: (i: number) => `block${i}_attn`,
  ffnNorm: (i: number) => `block${i}_ffn_norm`,
  ffn: (i: number) => `block${i}_ffn`,
  attnAdd: (i: number) => `block${i}_attn_add`,
  ffnAdd: (i: number) => `block${i}_ffn_add`,
};

const seedAt = (spec: TextModelSpec, offset: number): number | null => (spec.seed === undefined ? null : spec.seed + 101 * offset);

function attentionLayer(spec: TextModelSpec, a: AttentionSpec, i: number, returnWeights: boolean): tf.layers.Layer {
  const name = layerNames.attn(i);
  const numHeads = spec.heads;
  const keyDim = spec.dModel / spec.heads;
  const rope = (spec.position ?? "rope") === "rope";
  const ropeBase = spec.ropeBase ?? 10000;
  const causal = spec.family === "decoder";
  switch (a.kind) {
    case "softmax":
      return new SelfAttention({ name, numHeads, keyDim, causal, rope, ropeBase, window: a.window ?? null, returnWeights, seed: seedAt(spec, i + 1) });
    case "linear":
      return new LinearAttention({ name, numHeads, keyDim, ...(a.featureMap ? { featureMap: a.featureMap } : {}), ...(a.chunkSize ? { chunkSize: a.chunkSize } : {}) });
    case "lightning":
      return new LightningAttention({
        name, numHeads, keyDim, layers: spec.numLayers, layerIndex: i,
        ...(a.decayVariant ? { decayVariant: a.decayVariant } : {}), ...(a.chunkSize ? { chunkSize: a.chunkSize } : {}),
      });
    case "gated-deltanet":
      return new GatedDeltaNet({ name, numHeads, keyDim, ...(a.chunkSize ? { chunkSize: a.chunkSize } : {}), ...(a.convSize !== undefined ? { convSize: a.convSize } : {}) });
    case "still-hybrid":
      return new StillHybridAttention({
        name, numHeads, keyDim, chunkSize: a.chunkSize,
        ...(a.topK !== undefined ? { topK: a.topK } : {}), ...(a.featureDim ? { featureDim: a.featureDim } : {}), ...(a.saliency ? { saliency: a.saliency } : {}),
      });
    case "natsl-hybrid":
      return new TokenHybridAttention({ name, numHeads, keyDim, blockSize: a.blockSize });
    case "block-routing":
      return new BlockRoutingAttention({ name, heads: numHeads, blockSize: a.blockSize, topK: a.topK });
    case "landmark":
      return new LandmarkAttention({ name, numHeads, keyDim, blockSize: a.blockSize, ...(a.topK !== undefined ? { topK: a.topK } : {}), ropeBase: rope ? ropeBase : null });
    case "tempscale":
      return new TempScaleAttention({
        name, numHeads, keyDim, causal,
        ...(a.temperatureMode ? { temperatureMode: a.temperatureMode } : {}), ...(a.temperature !== undefined ? { temperature: a.temperature } : {}),
        ...(a.trainLength !== undefined ? { trainLength: a.trainLength } : {}),
      });
    case "base-conv":
      return new BaseConv({ name, ...(a.kernelSize !== undefined ? { kernelSize: a.kernelSize } : {}), seed: seedAt(spec, i + 1) });
  }
}

function ffnLayer(spec: TextModelSpec, f: FfnSpec, i: number): tf.layers.Layer {
  const name = layerNames.ffn(i);
  const seed = seedAt(spec, 1000 + i);
  if (f.kind === "mlp") return new FeedForward({ name, hiddenUnits: f.hiddenUnits ?? 4 * spec.dModel, ...(f.activation ? { activation: f.activation } : {}), seed });
  const router = f.router ?? "softmax";
  return new MoE({
    name,
    hiddenUnits: f.hiddenUnits,
    residual: false,
    router,
    // Never drop tokens by default: with a capacity, dropping depends on how many tokens a call sees, so
    // generation with a cache would differ from the full forward pass.
    capacityFactor: f.capacityFactor ?? null,
    ...(f.numExperts !== undefined ? { numExperts: f.numExperts } : {}),
    ...(f.topK !== undefined ? { topK: f.topK } : {}),
    ...(f.temperature !== undefined ? { temperature: f.temperature } : {}),
    ...(f.mixing !== undefined ? { mixing: f.mixing } : {}),
    ...(f.weightsFrom !== undefined ? { weightsFrom: f.weightsFrom } : {}),
    ...(f.balanceLossWeight !== undefined ? { balanceLossWeight: f.balanceLossWeight } : {}),
    ...(f.zLossWeight !== undefined ? { zLossWeight: f.zLossWeight } : {}),
    // A decoder's token may only look at earlier tokens, also through the similarity router.
    ...(router === "similarity" && spec.family === "decoder" ? { causal: true } : {}),
    ...(seed !== null ? { seed } : {}),
  });
}

const specs = new WeakMap<tf.LayersModel, ModelSpec>();

/** The (validated) spec a model was defined or loaded from, or null for other models. */
export function modelSpecOf(model: tf.LayersModel): ModelSpec | null {
  const known = specs.get(model);
  if (known) return known;
  const meta = model.getUserDefinedMetadata() as Record<string, unknown> | undefined;
  const raw = meta?.[SPEC_METADATA_KEY];
  if (raw === undefined) return null;
  const spec = parseModelSpec(raw);
  specs.set(model, spec);
  return spec;
}

/**
 * Builds the model a spec describes. Decoder: token ids `[batch, seq]` (int32) → logits
 * `[batch, seq, vocabSize]`. Encoder: token ids → mean-pooled embedding `[batch, dModel]`. Vision:
 * images `[batch, height, width, channels]` → class logits `[batch, numClasses]`.
 * Throws OptionError naming the JSON path of an invalid spec.
 */
export function defineModel(spec: ModelSpec): tf.LayersModel {
  const parsed = parseModelSpec(spec);
  const model = parsed.family === "vision" ? defineVisionModel(parsed) : defineTextModel(parsed);
  model.setUserDefinedMetadata({ [SPEC_METADATA_KEY]: parsed });
  specs.set(model, parsed);
  return model;
}

function defineTextModel(s: TextModelSpec): tf.LayersModel {
  const plan = resolveLayers(s);
  const tokens = tf.input({ shape: [null], dtype: "int32", name: "tokens" });
  const embedding = new TokenEmbedding({ name: layerNames.embedding, vocabSize: s.vocabSize, dModel: s.dModel, seed: seedAt(s, 0) });
  let h = embedding.apply(tokens) as tf.SymbolicTensor;
  if (s.position === "learned") h = new PositionEmbedding({ name: layerNames.positions, maxLength: s.seqLen, dModel: s.dModel, seed: seedAt(s, 999) }).apply(h) as tf.SymbolicTensor;
  const eps = s.normEps ?? 1e-6;
  plan.forEach(({ attention, ffn }, i) => {
    const wantWeights = ffn.kind === "moe" && ffn.router === "attention";
    const normed = new RMSNorm({ name: layerNames.attnNorm(i), eps }).apply(h) as tf.SymbolicTensor;
    const attnOut = attentionLayer(s, attention, i, wantWeights).apply(normed) as tf.SymbolicTensor | tf.SymbolicTensor[];
    const [a, weights] = Array.isArray(attnOut) ? attnOut : [attnOut, null];
    h = tf.layers.add({ name: layerNames.attnAdd(i) }).apply([h, a!]) as tf.SymbolicTensor;
    const normed2 = new RMSNorm({ name: layerNames.ffnNorm(i), eps }).apply(h) as tf.SymbolicTensor;
    const f = ffnLayer(s, ffn, i).apply(weights ? [normed2, weights] : normed2) as tf.SymbolicTensor;
    h = tf.layers.add({ name: layerNames.ffnAdd(i) }).apply([h, f]) as tf.SymbolicTensor;
  });
  h = new RMSNorm({ name: layerNames.finalNorm, eps }).apply(h) as tf.SymbolicTensor;
  let output: tf.SymbolicTensor;
  if (s.family === "encoder") {
    output = tf.layers.globalAveragePooling1d({ name: layerNames.pooled }).apply(h) as tf.SymbolicTensor;
  } else if (s.tieEmbeddings ?? true) {
    output = embedding.apply(h) as tf.SymbolicTensor;
  } else {
    output = tf.layers.dense({ name: layerNames.head, units: s.vocabSize, useBias: false }).apply(h) as tf.SymbolicTensor;
  }
  return tf.model({ inputs: tokens, outputs: output, name: s.name ?? `attnkit_${s.family}` });
}
