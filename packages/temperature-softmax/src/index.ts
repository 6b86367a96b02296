export { temperatureSoftmax, type TemperatureSoftmaxOptions } from "./ops/temperature-softmax";
export { temperatureAttention, type TemperatureAttentionOptions } from "./ops/temperature-attention";
export { ssmaxAttention, type SsmaxAttentionOptions } from "./ops/ssmax-attention";
export { logNScaledAttention, type LogNScaledAttentionOptions } from "./ops/logn-attention";
export type { PerHead } from "./ops/per-head";
export { meanPairwiseCosine, lengthBucketCosine } from "./metrics/cosine";
export { dcEnergyRatio } from "./metrics/dc-energy";
export { attentionHighpassGain, type AttentionHighpassGainOptions } from "./metrics/highpass";
export { TempScaleAttention, type TempScaleAttentionArgs, type TemperatureMode, type TemperatureParametrization } from "./layers/temp-scale-attention";
