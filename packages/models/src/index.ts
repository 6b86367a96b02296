export { SPEC_VERSION, modelSpecSchema, modelSpecJsonSchema, attentionSpecSchema, ffnSpecSchema, parseModelSpec, resolveLayers, formatPath, type ModelSpec, type AttentionSpec, type FfnSpec, type LayerSpec, type AttentionKind, type ResolvedLayer } from "./spec";
export { defineModel, modelSpecOf, layerNames, SPEC_METADATA_KEY } from "./build";
export { RMSNorm, type RMSNormArgs } from "./layers/rms-norm";
export { TokenEmbedding, type TokenEmbeddingArgs } from "./layers/token-embedding";
export { PositionEmbedding, type PositionEmbeddingArgs } from "./layers/position-embedding";
export { FeedForward, type FeedForwardArgs, type FeedForwardActivation } from "./layers/feed-forward";
export { SelfAttention, type SelfAttentionArgs, type SelfAttentionCache } from "./layers/self-attention";
export { lmLoss, oneHotTargets } from "./loss";
export { generate, supportsCache, type GenerateOptions } from "./generate";
