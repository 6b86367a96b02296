// BiFormer bi-level routing attention on a 1-D sequence (non-causal). A causal variant is not offered:
// region-pooled queries would leak later tokens into the routing (research/routing.md §7); use
// blockRoutingAttention for causal models.
import * as tf from "@tensorflow/tfjs";
import { OptionError, assertBoolean, assertInteger, assertKnownOptions, assertOneOf, checkAttentionInputs, resolveScale } from "@attnkit/core";
import { regionAttention, routeRegions, type Routing, type SharedScore } from "./region-attention";

export interface BiLevelRoutingAttentionOptions {
  /** Tokens per region; the sequence length must be a multiple. */
  regionSize: number;
  /** Regions each query region attends to, 1 ≤ topK ≤ number of regions. */
  topK: number;
  /** 'per-head' (default): every head routes on its own scores; 'shared': one routing for all heads. */
  routing?: Routing;
  /** Shared score: 'concat' (default, BiFormer: sum of per-head scores) or 'mean-vectors'. */
  sharedScore?: SharedScore;
  /** Default dim ** -0.5. */
  scale?: number | null;
  /** Also return the routing indices `[b, h, nRegions, topK]`. */
  returnIndices?: boolean;
}

export interface RoutedOutput {
  output: tf.Tensor4D;
  indices: tf.Tensor4D;
}

const NAME = "biLevelRoutingAttention";
const KEYS = ["regionSize", "topK", "routing", "sharedScore", "scale", "returnIndices"];

export function biLevelRoutingAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: BiLevelRoutingAttentionOptions & { returnIndices: true }): RoutedOutput;
export function biLevelRoutingAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: BiLevelRoutingAttentionOptions): tf.Tensor4D;
export function biLevelRoutingAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: BiLevelRoutingAttentionOptions): tf.Tensor4D | RoutedOutput {
  if (options === undefined || options === null) throw new OptionError(`${NAME}: options with regionSize and topK are required`);
  assertKnownOptions(NAME, options, KEYS);
  const dims = checkAttentionInputs(NAME, q, k, v);
  if (dims.seqQ !== dims.seqK) throw new OptionError(`${NAME}: q and k must have the same length (self-attention over regions), got ${dims.seqQ} and ${dims.seqK}`);
  assertInteger(NAME, "regionSize", options.regionSize, { min: 1 });
  const regionSize = options.regionSize;
  if (dims.seqQ % regionSize !== 0) throw new OptionError(`${NAME}: the sequence length ${dims.seqQ} must be divisible by regionSize, got regionSize ${regionSize}`);
  const n = dims.seqQ / regionSize;
  assertInteger(NAME, "topK", options.topK, { min: 1, max: n });
  const routing = options.routing ?? "per-head";
  assertOneOf(NAME, "routing", routing, ["per-head", "shared"]);
  const sharedScore = options.sharedScore ?? "concat";
  assertOneOf(NAME, "sharedScore", sharedScore, ["concat", "mean-vectors"]);
  const scale = resolveScale(NAME, options.scale, dims.dim ** -0.5);
  const returnIndices = options.returnIndices ?? false;
  assertBoolean(NAME, "returnIndices", returnIndices);
  const result = tf.tidy(() => {
    const indices = routeRegions(q, k, regionSize, options.topK, routing, sharedScore);
    return { output: regionAttention(q, k, v, indices, regionSize, scale) as tf.Tensor4D, indices: indices as tf.Tensor4D };
  });
  if (returnIndices) return result;
  result.indices.dispose();
  return result.output;
}
