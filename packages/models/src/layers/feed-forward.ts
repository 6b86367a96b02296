// Position-wise MLP: act(x·W1 + b1)·W2 + b2, hidden width `hiddenUnits`. No residual (the block adds it).
import * as tf from "@tensorflow/tfjs";
import { assertInteger, assertOneOf, mlp, registerLayer } from "@attnkit/core";
import { firstInput, firstShape, glorot, type LayerArgs, type LayerVariable } from "./common";

export type FeedForwardActivation = "gelu" | "relu" | "silu";

export interface FeedForwardArgs extends LayerArgs {
  hiddenUnits: number;
  /** Default 'gelu' (tanh approximation, as GPT-2). */
  activation?: FeedForwardActivation;
  seed?: number | null;
}

export class FeedForward extends tf.layers.Layer {
  static className = "FeedForward";
  readonly hiddenUnits: number;
  readonly activation: FeedForwardActivation;
  readonly seed: number | null;
  private w: LayerVariable[] = [];

  constructor(args: FeedForwardArgs) {
    const { hiddenUnits, activation, seed, ...base } = args;
    super(base);
    assertInteger("FeedForward", "hiddenUnits", hiddenUnits, { min: 1 });
    this.hiddenUnits = hiddenUnits;
    this.activation = activation ?? "gelu";
    assertOneOf("FeedForward", "activation", this.activation, ["gelu", "relu", "silu"] as const);
    this.seed = seed ?? null;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = firstShape(inputShape);
    const d = shape[shape.length - 1]!;
    const f = this.hiddenUnits;
    this.w = [
      this.addWeight("w1", [d, f], "float32", glorot(this.seed, 0)),
      this.addWeight("b1", [f], "float32", tf.initializers.zeros()),
      this.addWeight("w2", [f, d], "float32", glorot(this.seed, 1)),
      this.addWeight("b2", [d], "float32", tf.initializers.zeros()),
    ];
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = firstInput(inputs);
      const [w1, b1, w2, b2] = this.w.map((v) => v.read()) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
      const d = x.shape[x.rank - 1]!;
      const flat = x.reshape([-1, d]);
      // This layer's 'gelu' is the tanh approximation (GPT-2's).
      return mlp(flat as tf.Tensor2D, w1, b1, w2, b2, this.activation === "gelu" ? "gelu-tanh" : this.activation).reshape(x.shape);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), hiddenUnits: this.hiddenUnits, activation: this.activation, seed: this.seed };
  }
}
registerLayer(FeedForward);
