// Shared by the models tests: token batches, one training step, in-memory save/load.
import * as tf from "@tensorflow/tfjs";
import { lmLoss, oneHotTargets, type ModelSpec } from "../src/index";

/** A deterministic batch of token ids `[batch, seq + 1]` below `vocab`. */
export function tokenRows(batch: number, seq: number, vocab: number, seed = 1): number[][] {
  return Array.from({ length: batch }, (_, r) => Array.from({ length: seq + 1 }, (_, i) => (i * 7 + r * 13 + seed * 5 + ((i * i) % 11)) % vocab));
}

/** Inputs and targets of a small training batch for any family (decoder: next token; encoder: a random
 * embedding target; vision: random images and class labels). */
export function trainingBatch(spec: ModelSpec, rows: number[][]): { x: tf.Tensor; y: tf.Tensor } {
  if (spec.family === "vision") {
    const { height, width, channels } = spec.image;
    const x = tf.randomUniform([rows.length, height, width, channels], 0, 1, "float32", 5);
    return { x, y: oneHotTargets([rows.map((r) => r[0]! % spec.numClasses)], spec.numClasses).squeeze([0]) };
  }
  const x = tf.tensor2d(rows.map((r) => r.slice(0, -1)), undefined, "int32");
  const y = spec.family === "decoder" ? oneHotTargets(rows.map((r) => r.slice(1)), spec.vocabSize) : tf.randomNormal([rows.length, spec.dModel], 0, 1, "float32", 3);
  return { x, y };
}

/** Losses before the first and the second of two training steps on the same batch. */
export async function twoStepLosses(model: tf.LayersModel, spec: ModelSpec, rows: number[][]): Promise<number[]> {
  const { x, y } = trainingBatch(spec, rows);
  model.compile({ optimizer: tf.train.adam(3e-3), loss: spec.family === "encoder" ? "meanSquaredError" : lmLoss });
  const history = await model.fit(x, y, { epochs: 2, batchSize: rows.length, verbose: 0, shuffle: false });
  tf.dispose([x, y]);
  return history.history.loss as number[];
}

/** Saves into memory and returns a handler that loads the same artifacts. */
export async function saveToMemory(save: (h: tf.io.IOHandler) => Promise<unknown>): Promise<tf.io.IOHandler> {
  let saved: tf.io.ModelArtifacts | null = null;
  await save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
    }),
  );
  return tf.io.fromMemory(saved!);
}
