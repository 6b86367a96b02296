// BiFormer bi-level routing attention on an image: row-major tokens, a grid × grid of regions. It is
// 1-D BRA on region-major tokens; defaults follow the official code (shared routing, scale (heads·dim)^-0.5).
import * as tf from "@tensorflow/tfjs";
import { OptionError, assertBoolean, assertInteger, assertKnownOptions, assertOneOf, checkAttentionInputs, resolveScale } from "@attnkit/core";
import { regionAttention, routeRegions, type Routing, type SharedScore } from "./region-attention";
import type { RoutedOutput } from "./bi-level-routing";

export interface BiLevelRoutingAttention2dOptions {
  height: number;
  width: number;
  /** Regions per side; must divide height and width. */
  grid: number;
  /** Regions each query region attends to, 1 ≤ topK ≤ grid². */
  topK: number;
  /** Default 'shared' (BiFormer routes once for all heads). */
  routing?: Routing;
  sharedScore?: SharedScore;
  /** Default (heads·dim) ** -0.5: the official BiFormer scale (qk_dim is the full channel count). */
  scale?: number | null;
  returnIndices?: boolean;
}

const NAME = "biLevelRoutingAttention2d";
const KEYS = ["height", "width", "grid", "topK", "routing", "sharedScore", "scale", "returnIndices"];

/** Row-major tokens `[b, h, H·W, d]` → region-major (region by region, row-major inside). */
export function toRegionMajor(x: tf.Tensor, height: number, width: number, grid: number): tf.Tensor {
  const [b, h, , d] = x.shape as [number, number, number, number];
  const rh = height / grid;
  const rw = width / grid;
  return x.reshape([b * h, grid, rh, grid, rw, d]).transpose([0, 1, 3, 2, 4, 5]).reshape([b, h, height * width, d]);
}

/** Inverse of toRegionMajor. */
export function fromRegionMajor(x: tf.Tensor, height: number, width: number, grid: number): tf.Tensor {
  const [b, h, , d] = x.shape as [number, number, number, number];
  const rh = height / grid;
  const rw = width / grid;
  return x.reshape([b * h, grid, grid, rh, rw, d]).transpose([0, 1, 3, 2, 4, 5]).reshape([b, h, height * width, d]);
}

export function biLevelRoutingAttention2d(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: BiLevelRoutingAttention2dOptions & { returnIndices: true }): RoutedOutput;
export function biLevelRoutingAttention2d(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: BiLevelRoutingAttention2dOptions): tf.Tensor4D;
export function biLevelRoutingAttention2d(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: BiLevelRoutingAttention2dOptions): tf.Tensor4D | RoutedOutput {
  if (options === undefined || options === null) throw new OptionError(`${NAME}: options with height, width, grid and topK are required`);
  assertKnownOptions(NAME, options, KEYS);
  const dims = checkAttentionInputs(NAME, q, k, v);
  assertInteger(NAME, "height", options.height, { min: 1 });
  assertInteger(NAME, "width", options.width, { min: 1 });
  const { height, width } = options;
  if (dims.seqQ !== height * width || dims.seqK !== height * width) {
    throw new OptionError(`${NAME}: q and k must hold height·width = ${height * width} tokens, got ${dims.seqQ} and ${dims.seqK}`);
  }
  assertInteger(NAME, "grid", options.grid, { min: 1 });
  const grid = options.grid;
  if (height % grid !== 0 || width % grid !== 0) throw new OptionError(`${NAME}: grid must divide height ${height} and width ${width}, got grid ${grid}`);
  assertInteger(NAME, "topK", options.topK, { min: 1, max: grid * grid });
  const routing = options.routing ?? "shared";
  assertOneOf(NAME, "routing", routing, ["per-head", "shared"]);
  const sharedScore = options.sharedScore ?? "concat";
  assertOneOf(NAME, "sharedScore", sharedScore, ["concat", "mean-vectors"]);
  const scale = resolveScale(NAME, options.scale, (dims.heads * dims.dim) ** -0.5);
  const returnIndices = options.returnIndices ?? false;
  assertBoolean(NAME, "returnIndices", returnIndices);
  const regionSize = (height / grid) * (width / grid);
  const result = tf.tidy(() => {
    const [qr, kr, vr] = [q, k, v].map((x) => toRegionMajor(x, height, width, grid)) as [tf.Tensor, tf.Tensor, tf.Tensor];
    const indices = routeRegions(qr, kr, regionSize, options.topK, routing, sharedScore);
    const out = regionAttention(qr, kr, vr, indices, regionSize, scale);
    return { output: fromRegionMajor(out, height, width, grid) as tf.Tensor4D, indices: indices as tf.Tensor4D };
  });
  if (returnIndices) return result;
  result.indices.dispose();
  return result.output;
}
