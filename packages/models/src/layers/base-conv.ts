// Zoology's BaseConv sequence mixer (the `[BaseConv, mixer]` layer pairs of its MQAR sweeps):
// y = causalConv1d(u) ⊙ (u·W + b) + u, a short causal depth-wise convolution gated by a linear
// projection of the same input, with its own residual (the block adds another). It gives the next
// layer each token's few predecessors, which a recall layer needs to find a key's value.
// Initialisation as torch: the convolution's taps and bias U(±1/√k), the projection's U(±1/√d).
import * as tf from "@tensorflow/tfjs";
import { assertInteger, batchMatMul, causalConv1d, causalConvHistory, registerLayer } from "@attnkit/core";
import { firstInput, firstShape, type LayerArgs, type LayerVariable } from "./common";

export interface BaseConvArgs extends LayerArgs {
  /** Taps of the causal convolution (default 3, Zoology's). */
  kernelSize?: number;
  seed?: number | null;
}

/** The last kernelSize − 1 inputs `[b, k − 1, d]`: what the next token's convolution reads. */
export interface BaseConvCache {
  history: tf.Tensor;
}

const NAME = "BaseConv";

function uniform(bound: number, seed: number | null, offset: number): ReturnType<typeof tf.initializers.randomUniform> {
  return tf.initializers.randomUniform({ minval: -bound, maxval: bound, ...(seed === null ? {} : { seed: seed + offset }) });
}

export class BaseConv extends tf.layers.Layer {
  static className = NAME;
  readonly kernelSize: number;
  readonly seed: number | null;
  private w: LayerVariable[] = [];

  constructor(args: BaseConvArgs = {}) {
    const { kernelSize, seed, ...base } = args;
    super(base);
    this.kernelSize = kernelSize ?? 3;
    assertInteger(NAME, "kernelSize", this.kernelSize, { min: 1 });
    this.seed = seed ?? null;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = firstShape(inputShape);
    const d = shape[shape.length - 1]!;
    const k = this.kernelSize;
    this.w = [
      this.addWeight("conv_kernel", [k, d], "float32", uniform(1 / Math.sqrt(k), this.seed, 0)),
      this.addWeight("conv_bias", [d], "float32", uniform(1 / Math.sqrt(k), this.seed, 1)),
      this.addWeight("projection_kernel", [d, d], "float32", uniform(1 / Math.sqrt(d), this.seed, 2)),
      this.addWeight("projection_bias", [d], "float32", uniform(1 / Math.sqrt(d), this.seed, 3)),
    ];
    this.built = true;
  }

  private forward(u: tf.Tensor, history: tf.Tensor | undefined): tf.Tensor {
    const [kernel, bias, projection, projectionBias] = this.w.map((v) => v.read()) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    const conv = causalConv1d(u, kernel, { bias, ...(history ? { history } : {}) });
    const gate = batchMatMul(u, projection, false, false).add(projectionBias);
    return conv.mul(gate).add(u);
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => this.forward(firstInput(inputs), undefined));
  }

  /**
   * Runs new tokens `x: [b, n, d]` after the cached ones (null: none) and returns their output and the
   * new cache; equals the full forward pass. The caller disposes the old cache.
   */
  callWithCache(x: tf.Tensor, cache: BaseConvCache | null = null): { output: tf.Tensor; cache: BaseConvCache } {
    if (!this.built) this.build(x.shape);
    return tf.tidy(() => ({ output: this.forward(x, cache?.history), cache: { history: causalConvHistory(x, this.kernelSize, cache?.history) } }));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), kernelSize: this.kernelSize, seed: this.seed };
  }
}
registerLayer(BaseConv);
