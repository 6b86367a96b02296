// @attnkit/hybrid-attention public API (re-exports only). Append new export lines; do not reorder.
export * from "./ops/linear-attention";
export * from "./ops/decay-linear-attention";
export * from "./ops/gated-delta-rule";
export * from "./ops/transnormer";
export * from "./layers/linear-attention";
export * from "./layers/lightning-attention";
export * from "./layers/gated-delta-net";
export { npMap, type NpMapOptions } from "./ops/np-map";
export { stillSaliency, stillAttention, type StillSaliencyOptions, type StillAttentionOptions, type StillAttentionWithMask, type SaliencyVariant } from "./ops/still";
export { tokenHybridAttention, natslRoute, type TokenHybridAttentionOptions, type TokenHybridBranches, type NatslRouteOptions } from "./ops/token-hybrid";
export { StillHybridAttention, type StillHybridAttentionArgs, type StillCache } from "./layers/still-hybrid-attention";
export { TokenHybridAttention, type TokenHybridAttentionArgs, type TokenHybridCache } from "./layers/token-hybrid-attention";
