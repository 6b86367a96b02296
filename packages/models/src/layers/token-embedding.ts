// Token embedding whose table doubles as the tied LM head: called on int token ids `[b, s]` it looks
// rows up (`[b, s, d]`); called on hidden states `[b, s, d]` it returns logits h·Eᵀ (`[b, s, vocab]`).
// One layer applied twice in the functional graph is how weights are shared (and saved once) in TF.js.
import * as tf from "@tensorflow/tfjs";
import { assertInteger, batchMatMul, registerLayer } from "@attnkit/core";
import { firstInput, firstShape, type LayerArgs, type LayerVariable } from "./common";

/**
 * Rows `ids` of `table`. The gradient scatter-adds dy into the rows (scatterND sums repeated ids) rather
 * than TF.js's gather gradient, whose UnsortedSegmentSum kernel the wasm backend lacks; a oneHot(ids)ᵀ·dy
 * product would cost ids × vocab × dModel.
 */
function lookup(table: tf.Tensor, ids: tf.Tensor, vocab: number): tf.Tensor {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [t, save] = args as [tf.Tensor, tf.GradSaveFunc];
    // Saved, not closed over: the caller's tidy disposes `ids` before the backward pass runs.
    save([ids.reshape([-1, 1])]);
    return {
      value: tf.gather(t, ids),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const rows = dy as tf.Tensor;
        return tf.scatterND(saved[0]!, rows, [vocab, rows.shape[1]!]);
      },
    };
  });
  return op(table);
}

export interface TokenEmbeddingArgs extends LayerArgs {
  vocabSize: number;
  dModel: number;
  seed?: number | null;
}

export class TokenEmbedding extends tf.layers.Layer {
  static className = "TokenEmbedding";
  readonly vocabSize: number;
  readonly dModel: number;
  readonly seed: number | null;
  private table: LayerVariable | null = null;

  constructor(args: TokenEmbeddingArgs) {
    const { vocabSize, dModel, seed, ...base } = args;
    super(base);
    assertInteger("TokenEmbedding", "vocabSize", vocabSize, { min: 1 });
    assertInteger("TokenEmbedding", "dModel", dModel, { min: 1 });
    this.vocabSize = vocabSize;
    this.dModel = dModel;
    this.seed = seed ?? null;
  }

  override build(): void {
    // std 0.02 as GPT-2: small logits at init for the tied head.
    const init = tf.initializers.randomNormal({ mean: 0, stddev: 0.02, ...(this.seed === null ? {} : { seed: this.seed }) });
    this.table = this.addWeight("embeddings", [this.vocabSize, this.dModel], "float32", init);
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = firstShape(inputShape);
    return shape.length === 3 ? [shape[0]!, shape[1]!, this.vocabSize] : [...shape, this.dModel];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = firstInput(inputs);
      const table = this.table!.read();
      if (x.rank === 3) {
        const [b, s, d] = x.shape as [number, number, number];
        return batchMatMul(x.reshape([b * s, d]), table, false, true).reshape([b, s, this.vocabSize]);
      }
      const ids = (x.dtype === "int32" ? x : tf.cast(x, "int32")).flatten();
      return lookup(table, ids, this.vocabSize).reshape([...x.shape, this.dModel]);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), vocabSize: this.vocabSize, dModel: this.dModel, seed: this.seed };
  }
}
registerLayer(TokenEmbedding);
