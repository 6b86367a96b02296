// @attnkit/hybrid-attention public API (re-exports only). Append new export lines; do not reorder.
export * from "./ops/linear-attention";
export * from "./ops/decay-linear-attention";
export * from "./ops/gated-delta-rule";
export * from "./ops/transnormer";
export * from "./layers/linear-attention";
export * from "./layers/lightning-attention";
export * from "./layers/gated-delta-net";
