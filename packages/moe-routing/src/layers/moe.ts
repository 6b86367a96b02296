// Mixture-of-experts layer: router ('softmax' | 'similarity' | 'attention'), top-k, expert MLPs run on
// their own tokens with a capacity limit, residual. Inputs `[batch, T, d]` (and, for the attention
// router, the attention `[batch, heads, T, T]` or `[batch, T, T]` of the layer that feeds it).
import * as tf from "@tensorflow/tfjs";
import { OptionError, ShapeError, assertBoolean, assertKnownOptions, registerLayer } from "@attnkit/core";
import {
  MOE_OPTION_KEYS,
  RoutingRecorder,
  addMoeWeights,
  checkRoutingAttention,
  moeStep,
  resolveMoeOptions,
  splitLayerArgs,
  type MoeOptions,
  type MoeWeights,
  type ResolvedMoeOptions,
  type RoutingStats,
  type StepStats,
} from "./moe-common";

export interface MoEArgs extends MoeOptions {
  /** Add the input to the output (default true): tokens dropped by the capacity limit pass through unchanged. */
  residual?: boolean;
  name?: string;
  trainable?: boolean;
  dtype?: tf.DataType;
}

const NAME = "MoE";

export class MoE extends tf.layers.Layer {
  static className = "MoE";
  readonly options: ResolvedMoeOptions;
  readonly residual: boolean;
  private w: MoeWeights | null = null;
  private readonly recorder: RoutingRecorder;

  constructor(args: MoEArgs) {
    if (args === null || typeof args !== "object") throw new OptionError(`${NAME}: options with hiddenUnits are required`);
    const { base, rest: all } = splitLayerArgs(args);
    const { residual, ...rest } = all;
    assertKnownOptions(NAME, rest, MOE_OPTION_KEYS);
    const options = resolveMoeOptions(NAME, rest as unknown as MoeOptions);
    super(base);
    this.options = options;
    this.residual = (residual as boolean | undefined) ?? true;
    assertBoolean(NAME, "residual", this.residual);
    this.recorder = new RoutingRecorder(options);
  }

  private inputShapes(inputShape: tf.Shape | tf.Shape[]): tf.Shape[] {
    return Array.isArray(inputShape[0]) ? (inputShape as tf.Shape[]) : [inputShape as tf.Shape];
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shapes = this.inputShapes(inputShape);
    const want = this.options.router === "attention" ? 2 : 1;
    if (shapes.length !== want) {
      throw new ShapeError(`${NAME}: router '${this.options.router}' takes ${want === 2 ? "[x, attention]" : "one input x"}, got ${shapes.length} inputs`);
    }
    const x = shapes[0]!;
    const d = x[x.length - 1];
    if (x.length !== 3 || typeof d !== "number") throw new ShapeError(`${NAME}: x must have shape [batch, tokens, dModel], got [${x.join(", ")}]`);
    this.w = addMoeWeights(this, d, this.options);
    this.recorder.register(this);
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return this.inputShapes(inputShape)[0]!;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const list = Array.isArray(inputs) ? inputs : [inputs];
    const x = list[0]!;
    const attention = this.options.router === "attention" ? list[1] ?? null : null;
    if (this.options.router === "attention") {
      if (!attention) throw new ShapeError(`${NAME}: router 'attention' needs inputs [x, attention]`);
      checkRoutingAttention(NAME, x, attention, this.options);
    }
    return tf.tidy(() => {
      const { output, stats } = moeStep(x, this.w!, this.options, attention);
      this.recorder.record(stats, x.shape[0]! * x.shape[1]! * this.options.topK);
      return this.residual ? x.add(output) : output;
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
    return { ...super.getConfig(), ...this.options, residual: this.residual };
  }

  override dispose(): ReturnType<tf.layers.Layer["dispose"]> {
    this.recorder.dispose();
    return super.dispose();
  }
}

registerLayer(MoE);

/** Factory in the tf.layers style. */
export function moe(args: MoEArgs): MoE {
  if (args === undefined) throw new OptionError(`${NAME}: options with hiddenUnits are required`);
  return new MoE(args);
}
