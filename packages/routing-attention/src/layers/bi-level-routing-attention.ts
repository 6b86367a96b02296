// BiFormer's BRA block as a layer: one qkv projection (with bias), head-shared region routing over a
// grid × grid partition, gathered token-to-token attention, LCE (a depth-wise conv of V) added, output
// projection. Input and output are images `[batch, height, width, channels]`.
import * as tf from "@tensorflow/tfjs";
import { OptionError, assertInteger, assertOneOf, batchMatMul, registerLayer } from "@attnkit/core";
import { biLevelRoutingAttention2d } from "../ops/bi-level-routing-2d";
import { localContextEnhancement } from "../ops/local-context";
import type { Routing } from "../ops/region-attention";

export interface BiLevelRoutingAttentionLayerArgs {
  heads: number;
  /** Regions per side (BiFormer's n_win, 7 on ImageNet); must divide height and width. */
  grid: number;
  /** Regions each region attends to (BiFormer: 1, 4, 16 in stages 1–3). */
  topK: number;
  /** Query/key channels (default: the input channels, as BiFormer's qk_dim). */
  qkDim?: number | null;
  /** LCE kernel side (odd, default 5); 0 turns LCE off. */
  lceKernel?: number;
  /** Default 'shared', as BiFormer. */
  routing?: Routing;
  name?: string;
  trainable?: boolean;
}

const NAME = "BiLevelRoutingAttention";

export class BiLevelRoutingAttention extends tf.layers.Layer {
  static className = NAME;
  readonly heads: number;
  readonly grid: number;
  readonly topK: number;
  readonly qkDimArg: number | null;
  readonly lceKernel: number;
  readonly routing: Routing;
  private qkvKernel!: tf.LayerVariable;
  private qkvBias!: tf.LayerVariable;
  private lceWeight: tf.LayerVariable | null = null;
  private lceBias: tf.LayerVariable | null = null;
  private outKernel!: tf.LayerVariable;
  private outBias!: tf.LayerVariable;

  constructor(args: BiLevelRoutingAttentionLayerArgs) {
    super({ ...(args.name !== undefined ? { name: args.name } : {}), ...(args.trainable !== undefined ? { trainable: args.trainable } : {}) });
    assertInteger(NAME, "heads", args.heads, { min: 1 });
    assertInteger(NAME, "grid", args.grid, { min: 1 });
    assertInteger(NAME, "topK", args.topK, { min: 1 });
    const lce = args.lceKernel ?? 5;
    assertInteger(NAME, "lceKernel", lce, { min: 0 });
    if (lce > 0 && lce % 2 === 0) throw new OptionError(`${NAME}: lceKernel must be odd or 0, got ${lce}`);
    const routing = args.routing ?? "shared";
    assertOneOf(NAME, "routing", routing, ["shared", "per-head"]);
    if (args.qkDim !== undefined && args.qkDim !== null) assertInteger(NAME, "qkDim", args.qkDim, { min: 1 });
    this.heads = args.heads;
    this.grid = args.grid;
    this.topK = args.topK;
    this.qkDimArg = args.qkDim ?? null;
    this.lceKernel = lce;
    this.routing = routing;
  }

  private dims(shape: tf.Shape): { height: number; width: number; channels: number; qk: number } {
    const [, height, width, channels] = shape as [number, number, number, number];
    if (shape.length !== 4 || !height || !width || !channels) throw new OptionError(`${NAME}: input must be [batch, height, width, channels] with known sizes, got [${shape.join(", ")}]`);
    const qk = this.qkDimArg ?? channels;
    if (qk % this.heads !== 0 || channels % this.heads !== 0) throw new OptionError(`${NAME}: channels ${channels} and qkDim ${qk} must be divisible by heads ${this.heads}`);
    if (height % this.grid !== 0 || width % this.grid !== 0) throw new OptionError(`${NAME}: grid must divide height ${height} and width ${width}, got grid ${this.grid}`);
    if (this.topK > this.grid * this.grid) throw new OptionError(`${NAME}: topK must be ≤ grid² = ${this.grid * this.grid}, got ${this.topK}`);
    return { height, width, channels, qk };
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const { channels, qk } = this.dims(inputShape as tf.Shape);
    this.qkvKernel = this.addWeight("qkv_kernel", [channels, 2 * qk + channels], "float32", tf.initializers.glorotUniform({}));
    this.qkvBias = this.addWeight("qkv_bias", [2 * qk + channels], "float32", tf.initializers.zeros());
    if (this.lceKernel > 0) {
      this.lceWeight = this.addWeight("lce_kernel", [channels, this.lceKernel, this.lceKernel], "float32", tf.initializers.truncatedNormal({ stddev: 0.02 }));
      this.lceBias = this.addWeight("lce_bias", [channels], "float32", tf.initializers.zeros());
    }
    this.outKernel = this.addWeight("out_kernel", [channels, channels], "float32", tf.initializers.glorotUniform({}));
    this.outBias = this.addWeight("out_bias", [channels], "float32", tf.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      const { height, width, channels, qk } = this.dims(x.shape);
      const b = x.shape[0]!;
      const n = height * width;
      const qkv = batchMatMul(x.reshape([b * n, channels]), this.qkvKernel.read()).add(this.qkvBias.read());
      // Head h owns channels h·d … h·d + d − 1 of q, k and v.
      const split = (from: number, size: number) =>
        qkv.slice([0, from], [-1, size]).reshape([b, n, this.heads, size / this.heads]).transpose([0, 2, 1, 3]);
      const q = split(0, qk);
      const k = split(qk, qk);
      const v = split(2 * qk, channels);
      let out = biLevelRoutingAttention2d(q, k, v, { height, width, grid: this.grid, topK: this.topK, routing: this.routing });
      if (this.lceWeight && this.lceBias) out = out.add(localContextEnhancement(v, { height, width, kernel: this.lceWeight.read(), bias: this.lceBias.read() }));
      const merged = out.transpose([0, 2, 1, 3]).reshape([b * n, channels]);
      return batchMatMul(merged, this.outKernel.read()).add(this.outBias.read()).reshape([b, height, width, channels]);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), heads: this.heads, grid: this.grid, topK: this.topK, qkDim: this.qkDimArg, lceKernel: this.lceKernel, routing: this.routing };
  }
}
registerLayer(BiLevelRoutingAttention);
