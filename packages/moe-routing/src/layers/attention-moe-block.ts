// (S)MoE-Attention block: pre-norm self-attention (core's scaledDotProductAttention with returnWeights)
// whose attention matrix routes the following MoE (the paper's Attention-Aware (S)MoE, a
// reconstruction). x → x + Attn(norm(x)) → h + MoE(norm(h); routed by A). Input `[batch, T, dModel]`.
import * as tf from "@tensorflow/tfjs";
import { assertBoolean, assertInteger, assertKnownOptions, batchMatMul, OptionError, registerLayer, rmsNorm, scaledDotProductAttention, ShapeError } from "@attnkit/core";
import {
  MOE_OPTION_KEYS,
  RoutingRecorder,
  addMoeWeights,
  moeStep,
  resolveMoeOptions,
  splitLayerArgs,
  type MoeOptions,
  type MoeWeights,
  type ResolvedMoeOptions,
  type RoutingStats,
  type StepStats,
} from "./moe-common";

export interface AttentionMoEBlockArgs extends MoeOptions {
  /** Attention heads; dModel must be divisible by it. */
  numHeads: number;
  /** Causal self-attention (default true; the attention router then never looks ahead either). */
  attentionCausal?: boolean;
  name?: string;
  trainable?: boolean;
  dtype?: tf.DataType;
}

const NAME = "AttentionMoEBlock";

type Attn = { norm1: tf.LayerVariable; wq: tf.LayerVariable; wk: tf.LayerVariable; wv: tf.LayerVariable; wo: tf.LayerVariable; norm2: tf.LayerVariable };

export class AttentionMoEBlock extends tf.layers.Layer {
  static className = "AttentionMoEBlock";
  readonly options: ResolvedMoeOptions;
  readonly numHeads: number;
  readonly attentionCausal: boolean;
  private attn: Attn | null = null;
  private w: MoeWeights | null = null;
  private readonly recorder: RoutingRecorder;

  constructor(args: AttentionMoEBlockArgs) {
    if (args === null || typeof args !== "object") throw new OptionError(`${NAME}: options with numHeads and hiddenUnits are required`);
    const { base, rest: all } = splitLayerArgs(args);
    const { numHeads, attentionCausal, ...rest } = all as { numHeads: number; attentionCausal?: boolean };
    assertKnownOptions(NAME, rest, MOE_OPTION_KEYS);
    // The block's router defaults to its own attention.
    const options = resolveMoeOptions(NAME, { router: "attention", ...(rest as unknown as MoeOptions) });
    super(base);
    assertInteger(NAME, "numHeads", numHeads, { min: 1 });
    this.numHeads = numHeads;
    this.attentionCausal = attentionCausal ?? true;
    assertBoolean(NAME, "attentionCausal", this.attentionCausal);
    this.options = options;
    this.recorder = new RoutingRecorder(options);
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const d = shape[shape.length - 1];
    if (shape.length !== 3 || typeof d !== "number") throw new ShapeError(`${NAME}: input must have shape [batch, tokens, dModel], got [${shape.join(", ")}]`);
    if (d % this.numHeads !== 0) throw new ShapeError(`${NAME}: dModel ${d} must be divisible by numHeads ${this.numHeads}`);
    if (this.options.headReduce === "single" && this.options.head >= this.numHeads) {
      throw new OptionError(`${NAME}: head must be an integer in [0, ${this.numHeads - 1}], got ${this.options.head}`);
    }
    const seed = this.options.seed;
    const glorot = (k: number) => tf.initializers.glorotUniform(seed === null ? {} : { seed: seed + 10 + k });
    this.attn = {
      norm1: this.addWeight("norm1", [d], "float32", tf.initializers.ones()),
      wq: this.addWeight("wq", [d, d], "float32", glorot(0)),
      wk: this.addWeight("wk", [d, d], "float32", glorot(1)),
      wv: this.addWeight("wv", [d, d], "float32", glorot(2)),
      wo: this.addWeight("wo", [d, d], "float32", glorot(3)),
      norm2: this.addWeight("norm2", [d], "float32", tf.initializers.ones()),
    };
    this.w = addMoeWeights(this, d, this.options);
    this.recorder.register(this);
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    return tf.tidy(() => {
      const [b, t, d] = x.shape as [number, number, number];
      const a = this.attn!;
      const h = this.numHeads;
      const heads = (m: tf.Tensor) => m.reshape([b, t, h, d / h]).transpose([0, 2, 1, 3]);
      const xn = rmsNorm(x, { weight: a.norm1.read() });
      const q = heads(batchMatMul(xn.reshape([b * t, d]), a.wq.read()));
      const k = heads(batchMatMul(xn.reshape([b * t, d]), a.wk.read()));
      const v = heads(batchMatMul(xn.reshape([b * t, d]), a.wv.read()));
      const { output, weights } = scaledDotProductAttention(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D, { causal: this.attentionCausal, returnWeights: true });
      const merged = output.transpose([0, 2, 1, 3]).reshape([b * t, d]);
      const x1 = x.add(batchMatMul(merged, a.wo.read()).reshape([b, t, d]));
      const hn = rmsNorm(x1, { weight: a.norm2.read() });
      const { output: y, stats } = moeStep(hn, this.w!, this.options, this.options.router === "attention" ? weights : null);
      this.recorder.record(stats, b * t * this.options.topK);
      return x1.add(y);
    });
  }

  /** The last call's routing statistics (expert load, entropy, dropped assignments, losses), read from the device. */
  async routingStats(): Promise<RoutingStats | null> {
    return this.recorder.read();
  }

  /** The last call's loss tensors (owned by the layer), or null before any call. */
  get lastLosses(): StepStats | null {
    return this.recorder.tensors;
  }

  /** The weighted auxiliary loss of the last call, as added to the training loss. The caller disposes it. */
  auxLoss(): tf.Scalar {
    return this.recorder.auxLoss();
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), ...this.options, numHeads: this.numHeads, attentionCausal: this.attentionCausal };
  }

  override dispose(): ReturnType<tf.layers.Layer["dispose"]> {
    this.recorder.dispose();
    return super.dispose();
  }
}

registerLayer(AttentionMoEBlock);
