// Named specs for the docs and the lab. Text presets are byte-level (vocab 256), vision presets take
// 28 × 28 digits; all are small (d ≤ 64, 4 layers, about 0.1–0.4 M parameters), so each trains on a laptop CPU in minutes. Frozen: copy one with `preset(name)`.
import { OptionError } from "@attnkit/core";
import { SPEC_VERSION, type ModelSpec, type TextModelSpec, type VisionModelSpec } from "./spec";

const decoder = {
  version: SPEC_VERSION,
  family: "decoder",
  vocabSize: 256,
  seqLen: 128,
  dModel: 64,
  heads: 4,
  numLayers: 4,
  position: "rope",
  tieEmbeddings: true,
} as const satisfies Partial<TextModelSpec>;

const table = {
  dense: { ...decoder, name: "dense" },
  linear: { ...decoder, name: "linear", attention: { kind: "linear", chunkSize: 32 } },
  lightning: { ...decoder, name: "lightning", attention: { kind: "lightning", chunkSize: 32 } },
  "gated-deltanet": { ...decoder, name: "gated-deltanet", attention: { kind: "gated-deltanet", chunkSize: 32 } },
  // flash-linear-attention's hybrid plan: softmax attention at layers 1 and 3, Gated DeltaNet elsewhere.
  "gated-deltanet-hybrid": { ...decoder, name: "gated-deltanet-hybrid", attention: { kind: "gated-deltanet", chunkSize: 32 }, attn: { layers: [1, 3], attention: { kind: "softmax" } } },
  "still-hybrid": { ...decoder, name: "still-hybrid", attention: { kind: "still-hybrid", chunkSize: 16, topK: 2 } },
  "natsl-hybrid": { ...decoder, name: "natsl-hybrid", attention: { kind: "natsl-hybrid", blockSize: 16 } },
  "block-routing": { ...decoder, name: "block-routing", attention: { kind: "block-routing", blockSize: 16, topK: 3 } },
  // 15 regular tokens + 1 landmark per block; token 256 is the landmark (vocab 257).
  landmark: { ...decoder, name: "landmark", vocabSize: 257, landmarkId: 256, attention: { kind: "landmark", blockSize: 15, topK: 2 } },
  "moe-softmax": { ...decoder, name: "moe-softmax", ffn: { kind: "moe", hiddenUnits: 128, numExperts: 4, topK: 2, router: "softmax" } },
  "moe-attention-aware": { ...decoder, name: "moe-attention-aware", ffn: { kind: "moe", hiddenUnits: 128, numExperts: 4, topK: 2, router: "attention" } },
  // The collapse study: a bidirectional encoder with a learned per-head temperature, mean-pooled output.
  "tempscale-encoder": {
    version: SPEC_VERSION,
    family: "encoder",
    name: "tempscale-encoder",
    vocabSize: 256,
    seqLen: 128,
    dModel: 64,
    heads: 4,
    numLayers: 4,
    position: "rope",
    attention: { kind: "tempscale", temperatureMode: "learned", temperature: 1 },
  },
  // Vision, sized for 28 × 28 MNIST digits. ViT: 4 × 4 patches (a 7 × 7 grid), one stage of softmax blocks.
  "vit-tiny": {
    version: SPEC_VERSION,
    family: "vision",
    name: "vit-tiny",
    image: { height: 28, width: 28, channels: 1 },
    patchSize: 4,
    numClasses: 10,
    stages: [{ dModel: 64, heads: 4, numLayers: 4 }],
  },
  // BiFormer-style: 2 × 2 patches (14 × 14 tokens) with BRA over a 7 × 7 region grid, then patch merging
  // to 7 × 7 tokens (one token per region there, as BiFormer's last stage); topK grows with depth as in
// BiFormer. No position table (LCE gives local position).
  "biformer-tiny": {
    version: SPEC_VERSION,
    family: "vision",
    name: "biformer-tiny",
    image: { height: 28, width: 28, channels: 1 },
    patchSize: 2,
    numClasses: 10,
    position: "none",
    stages: [
      { dModel: 32, heads: 2, numLayers: 1, attention: { kind: "bi-level-routing", grid: 7, topK: 4, lceKernel: 3 } },
      { dModel: 64, heads: 4, numLayers: 2, attention: { kind: "bi-level-routing", grid: 7, topK: 16, lceKernel: 3 } },
    ],
  },
} as const satisfies Record<string, ModelSpec>;

export type PresetName = keyof typeof table;

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object") {
    Object.values(value).forEach(deepFreeze);
    Object.freeze(value);
  }
  return value;
}

/** The spec type of a preset: vision presets are VisionModelSpecs, the rest TextModelSpecs. */
export type PresetSpec<N extends PresetName> = (typeof table)[N] extends { family: "vision" } ? VisionModelSpec : TextModelSpec;

/** Named specs (frozen). */
export const presets: Readonly<{ [N in PresetName]: PresetSpec<N> }> = deepFreeze(table as unknown as { [N in PresetName]: PresetSpec<N> });

export const presetNames = Object.keys(table) as PresetName[];

/** A mutable copy of a preset, optionally with top-level fields replaced. */
export function preset<N extends PresetName>(name: N, overrides: Partial<PresetSpec<N>> = {}): PresetSpec<N> {
  if (!Object.prototype.hasOwnProperty.call(table, name)) {
    throw new OptionError(`preset: name must be one of ${presetNames.map((n) => `'${n}'`).join(" | ")}, got ${JSON.stringify(name)}`);
  }
  return { ...(JSON.parse(JSON.stringify(presets[name])) as PresetSpec<N>), ...overrides };
}
