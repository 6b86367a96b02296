// Learned absolute positions: adds row p of a `[maxLength, d]` table to position p. `callAt` starts at
// an offset, for generation with a cache.
import * as tf from "@tensorflow/tfjs";
import { ShapeError, assertInteger, registerLayer } from "@attnkit/core";
import { firstInput, type LayerArgs, type LayerVariable } from "./common";

export interface PositionEmbeddingArgs extends LayerArgs {
  maxLength: number;
  dModel: number;
  seed?: number | null;
}

export class PositionEmbedding extends tf.layers.Layer {
  static className = "PositionEmbedding";
  readonly maxLength: number;
  readonly dModel: number;
  readonly seed: number | null;
  private table: LayerVariable | null = null;

  constructor(args: PositionEmbeddingArgs) {
    const { maxLength, dModel, seed, ...base } = args;
    super(base);
    assertInteger("PositionEmbedding", "maxLength", maxLength, { min: 1 });
    assertInteger("PositionEmbedding", "dModel", dModel, { min: 1 });
    this.maxLength = maxLength;
    this.dModel = dModel;
    this.seed = seed ?? null;
  }

  override build(): void {
    const init = tf.initializers.randomNormal({ mean: 0, stddev: 0.02, ...(this.seed === null ? {} : { seed: this.seed }) });
    this.table = this.addWeight("positions", [this.maxLength, this.dModel], "float32", init);
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => this.add(firstInput(inputs), 0));
  }

  /** x `[b, s, d]` plus the positions offset … offset + s − 1. */
  callAt(x: tf.Tensor, offset: number): tf.Tensor {
    if (!this.built) this.build();
    return tf.tidy(() => this.add(x, offset));
  }

  private add(x: tf.Tensor, offset: number): tf.Tensor {
    const seq = x.shape[1]!;
    if (offset + seq > this.maxLength) {
      throw new ShapeError(`PositionEmbedding: positions ${offset}..${offset + seq - 1} exceed the learned table (maxLength ${this.maxLength})`);
    }
    return x.add(this.table!.read().slice([offset, 0], [seq, this.dModel]));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), maxLength: this.maxLength, dModel: this.dModel, seed: this.seed };
  }
}
registerLayer(PositionEmbedding);
