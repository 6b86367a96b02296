// RMSNorm with a learned per-channel weight (initialised at 1), over the last axis.
import * as tf from "@tensorflow/tfjs";
import { assertNumber, registerLayer, rmsNorm } from "@attnkit/core";
import { firstInput, firstShape, type LayerArgs, type LayerVariable } from "./common";

export interface RMSNormArgs extends LayerArgs {
  /** Default 1e-6. */
  eps?: number;
}

export class RMSNorm extends tf.layers.Layer {
  static className = "RMSNorm";
  readonly eps: number;
  private weight: LayerVariable | null = null;

  constructor(args: RMSNormArgs = {}) {
    const { eps, ...base } = args;
    super(base);
    this.eps = eps ?? 1e-6;
    assertNumber("RMSNorm", "eps", this.eps, { min: 0, minExclusive: true });
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = firstShape(inputShape);
    this.weight = this.addWeight("weight", [shape[shape.length - 1]!], "float32", tf.initializers.ones());
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => rmsNorm(firstInput(inputs), { weight: this.weight!.read(), eps: this.eps }));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), eps: this.eps };
  }
}
registerLayer(RMSNorm);
