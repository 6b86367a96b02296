export { AttnkitError, ShapeError, OptionError } from "./errors";
export {
  assertTensor,
  assertRank,
  assertFloat,
  assertShape,
  assertBroadcastable,
  assertInteger,
  assertNumber,
  assertOneOf,
  assertBoolean,
  assertKnownOptions,
  resolveScale,
  checkAttentionInputs,
  shapeString,
  type AttentionDims,
  type NumberRange,
} from "./validate";
export { initBackend, backendInfo, type BackendName, type BackendInfo, type InitBackendOptions } from "./backend";
export { registerLayer } from "./registry";
export { batchMatMul, prefersMatrixSlices } from "./ops/matmul";
export { scaledDotProductAttention, type ScaledDotProductAttentionOptions, type AttentionWithWeights } from "./ops/attention";
export { causalMask, visibleKeyRange, visibilityMask, visibilityBias, type VisibilityRule } from "./ops/masks";
export { topKIndices, type TopKIndicesOptions } from "./ops/topk";
export { applyRotary, type ApplyRotaryOptions } from "./ops/rotary";
export { rmsNorm, l2Normalize, type RmsNormOptions, type L2NormalizeOptions } from "./ops/norms";
export { BASE_LAYER_ARGS, checkLayerArgs, lastDim, splitHeads, mergeHeads } from "./layers";
export { withoutGradient, stopGradient } from "./ops/stop-gradient";
export { splitLeading } from "./ops/split";
export { mlp, activate, activationSlope, ACTIVATIONS, type Activation } from "./ops/mlp";
export { mulberry32, checkSeed, withSeededRandom, type Mulberry32 } from "./random";
export { addAll } from "./ops/add-all";
export { cumsum, type CumsumOptions } from "./ops/cumsum";
export { causalConv1d, causalConvHistory, type CausalConv1dOptions } from "./ops/causal-conv";
