export { topKGate, type TopKGateOptions, type GateResult } from "./ops/top-k-gate";
export { similarityAwareGate, type SimilarityAwareGateOptions, type SimilarityGateResult } from "./ops/similarity-gate";
export { attentionAwareGate, type AttentionAwareGateOptions, type HeadReduce } from "./ops/attention-gate";
export { type GraphGateResult, type WeightsFrom, type Mixing } from "./ops/graph-gate";
export { moeForward, type MoeForwardOptions, type ExpertWeights, type Activation } from "./ops/moe-forward";
export { expertCapacity } from "./ops/dispatch";
export { loadBalancingLoss, routerZLoss, type LoadBalancingLossOptions } from "./ops/losses";
export { routingEntropy, routingFluctuation, type RoutingFluctuation } from "./ops/routing-stats";
