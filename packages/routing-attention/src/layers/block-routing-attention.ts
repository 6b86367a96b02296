// A causal self-attention layer with MoBA block routing, for language models. Input and output are
// `[batch, seq, dModel]`. `step` runs generation with a KV cache; its outputs equal the full forward pass
// token by token, because routing only ranks complete past blocks (whose mean keys never change).
import * as tf from "@tensorflow/tfjs";
import { OptionError, assertInteger, batchMatMul, registerLayer } from "@attnkit/core";
import { blockRoutingAttention } from "../ops/block-routing";

export interface BlockRoutingAttentionLayerArgs {
  heads: number;
  /** Channels per head (default dModel / heads). */
  headDim?: number | null;
  blockSize: number;
  /** Blocks per query, counting the current one. */
  topK: number;
  name?: string;
  trainable?: boolean;
}

/** Keys and values seen so far, `[batch, heads, length, headDim]`; owned by the layer's `step`. */
export interface BlockRoutingCache {
  k: tf.Tensor4D | null;
  v: tf.Tensor4D | null;
}

const NAME = "BlockRoutingAttention";

export class BlockRoutingAttention extends tf.layers.Layer {
  static className = NAME;
  readonly heads: number;
  readonly headDimArg: number | null;
  readonly blockSize: number;
  readonly topK: number;
  private qkvKernel!: tf.LayerVariable;
  private qkvBias!: tf.LayerVariable;
  private outKernel!: tf.LayerVariable;
  private outBias!: tf.LayerVariable;

  constructor(args: BlockRoutingAttentionLayerArgs) {
    super({ ...(args.name !== undefined ? { name: args.name } : {}), ...(args.trainable !== undefined ? { trainable: args.trainable } : {}) });
    assertInteger(NAME, "heads", args.heads, { min: 1 });
    assertInteger(NAME, "blockSize", args.blockSize, { min: 1 });
    assertInteger(NAME, "topK", args.topK, { min: 1 });
    if (args.headDim !== undefined && args.headDim !== null) assertInteger(NAME, "headDim", args.headDim, { min: 1 });
    this.heads = args.heads;
    this.headDimArg = args.headDim ?? null;
    this.blockSize = args.blockSize;
    this.topK = args.topK;
  }

  private headDim(dModel: number): number {
    if (this.headDimArg !== null) return this.headDimArg;
    if (dModel % this.heads !== 0) throw new OptionError(`${NAME}: dModel ${dModel} must be divisible by heads ${this.heads} (or set headDim)`);
    return dModel / this.heads;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = inputShape as tf.Shape;
    const dModel = shape[shape.length - 1];
    if (shape.length !== 3 || !dModel) throw new OptionError(`${NAME}: input must be [batch, seq, dModel] with a known dModel, got [${shape.join(", ")}]`);
    const inner = this.heads * this.headDim(dModel);
    this.qkvKernel = this.addWeight("qkv_kernel", [dModel, 3 * inner], "float32", tf.initializers.glorotUniform({}));
    this.qkvBias = this.addWeight("qkv_bias", [3 * inner], "float32", tf.initializers.zeros());
    this.outKernel = this.addWeight("out_kernel", [inner, dModel], "float32", tf.initializers.glorotUniform({}));
    this.outBias = this.addWeight("out_bias", [dModel], "float32", tf.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  /** q, k, v `[b, heads, seq, headDim]` of `x: [b, seq, dModel]`. */
  private project(x: tf.Tensor): [tf.Tensor, tf.Tensor, tf.Tensor] {
    const [b, s, dModel] = x.shape as [number, number, number];
    const hd = this.headDim(dModel);
    const inner = this.heads * hd;
    const qkv = batchMatMul(x.reshape([b * s, dModel]), this.qkvKernel.read()).add(this.qkvBias.read());
    const split = (i: number) => qkv.slice([0, i * inner], [-1, inner]).reshape([b, s, this.heads, hd]).transpose([0, 2, 1, 3]);
    return [split(0), split(1), split(2)];
  }

  private projectOut(attn: tf.Tensor, dModel: number): tf.Tensor {
    const [b, , s, hd] = attn.shape as [number, number, number, number];
    const merged = attn.transpose([0, 2, 1, 3]).reshape([b * s, this.heads * hd]);
    return batchMatMul(merged, this.outKernel.read()).add(this.outBias.read()).reshape([b, s, dModel]);
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      const [q, k, v] = this.project(x);
      return this.projectOut(blockRoutingAttention(q, k, v, { blockSize: this.blockSize, topK: this.topK }), x.shape[2]!);
    });
  }

  /** An empty cache for `step`. */
  initCache(): BlockRoutingCache {
    return { k: null, v: null };
  }

  /**
   * Runs the next tokens `x: [batch, n, dModel]` (n ≥ 1) against the cache and returns their outputs and
   * the grown cache. The old cache's tensors are disposed; dispose the last cache's `k` and `v` when done.
   */
  step(x: tf.Tensor, cache: BlockRoutingCache): { output: tf.Tensor; cache: BlockRoutingCache } {
    if (!this.built) this.build(x.shape);
    const result = tf.tidy(() => {
      const [q, k, v] = this.project(x);
      const keys = (cache.k ? tf.concat([cache.k, k], 2) : k) as tf.Tensor4D;
      const values = (cache.v ? tf.concat([cache.v, v], 2) : v) as tf.Tensor4D;
      const out = blockRoutingAttention(q, keys, values, { blockSize: this.blockSize, topK: this.topK });
      return { output: this.projectOut(out, x.shape[2]!), k: keys, v: values };
    });
    tf.dispose([cache.k, cache.v].filter((t): t is tf.Tensor4D => t !== null));
    return { output: result.output, cache: { k: result.k, v: result.v } };
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), heads: this.heads, headDim: this.headDimArg, blockSize: this.blockSize, topK: this.topK };
  }
}
registerLayer(BlockRoutingAttention);
