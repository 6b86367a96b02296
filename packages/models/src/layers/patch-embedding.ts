// Non-overlapping patches of an image `[b, H, W, C]` → `[b, H/p, W/p, dModel]` by one linear map of each
// flattened p × p × C patch (a strided convolution, written with rank-4 reshapes and a matmul so that
// every backend has the kernels and gradients). Also BiFormer-style patch merging between stages.
import * as tf from "@tensorflow/tfjs";
import { assertInteger, batchMatMul, registerLayer, ShapeError, shapeString } from "@attnkit/core";
import { firstInput, firstShape, glorot, type LayerArgs, type LayerVariable } from "./common";

export interface PatchEmbeddingArgs extends LayerArgs {
  patchSize: number;
  dModel: number;
  seed?: number | null;
}

export class PatchEmbedding extends tf.layers.Layer {
  static className = "PatchEmbedding";
  readonly patchSize: number;
  readonly dModel: number;
  readonly seed: number | null;
  private kernel: LayerVariable | null = null;
  private bias: LayerVariable | null = null;

  constructor(args: PatchEmbeddingArgs) {
    const { patchSize, dModel, seed, ...base } = args;
    super(base);
    assertInteger("PatchEmbedding", "patchSize", patchSize, { min: 1 });
    assertInteger("PatchEmbedding", "dModel", dModel, { min: 1 });
    this.patchSize = patchSize;
    this.dModel = dModel;
    this.seed = seed ?? null;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = firstShape(inputShape);
    const c = shape[3];
    if (shape.length !== 4 || typeof c !== "number") throw new ShapeError(`PatchEmbedding: input must be [batch, height, width, channels], got [${shape.join(", ")}]`);
    const p = this.patchSize;
    this.kernel = this.addWeight("kernel", [p * p * c, this.dModel], "float32", glorot(this.seed, 0));
    this.bias = this.addWeight("bias", [this.dModel], "float32", tf.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [b, h, w] = firstShape(inputShape);
    const p = this.patchSize;
    return [b ?? null, h == null ? null : h / p, w == null ? null : w / p, this.dModel];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = firstInput(inputs);
      const [b, H, W, C] = x.shape as [number, number, number, number];
      const p = this.patchSize;
      if (x.rank !== 4 || H % p !== 0 || W % p !== 0) throw new ShapeError(`PatchEmbedding: input must be [batch, H, W, C] with H and W multiples of ${p}, got ${shapeString(x.shape)}`);
      const h = H / p;
      const w = W / p;
      // [b·h, p, w, p·C] → [b·h, w, p, p·C]: each patch's rows side by side, then flattened.
      const patches = x.reshape([b * h, p, w, p * C]).transpose([0, 2, 1, 3]).reshape([b * h * w, p * p * C]);
      return batchMatMul(patches, this.kernel!.read()).add(this.bias!.read()).reshape([b, h, w, this.dModel]);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), patchSize: this.patchSize, dModel: this.dModel, seed: this.seed };
  }
}
registerLayer(PatchEmbedding);
