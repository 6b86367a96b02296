export { biLevelRoutingAttention, type BiLevelRoutingAttentionOptions, type RoutedOutput } from "./ops/bi-level-routing";
export { biLevelRoutingAttention2d, toRegionMajor, fromRegionMajor, type BiLevelRoutingAttention2dOptions } from "./ops/bi-level-routing-2d";
export { blockRoutingAttention, routeBlocks, type BlockRoutingAttentionOptions } from "./ops/block-routing";
export { localContextEnhancement, type LocalContextEnhancementOptions } from "./ops/local-context";
export { hierarchicalTopK, flatTopK, type HierarchicalTopKOptions, type FlatTopKOptions } from "./ops/hierarchical-topk";
export { indexIoU } from "./ops/index-iou";
export { sparseGatherAttention, type SparseGatherAttentionOptions } from "./ops/sparse-gather";
export type { Routing, SharedScore } from "./ops/region-attention";
