// Small pieces every attnkit layer needs: checking its constructor arguments, reading the model
// dimension from the input shape, and moving heads in and out of the channel axis.
import * as tf from "@tensorflow/tfjs";
import { OptionError, ShapeError } from "./errors";
import { shapeString } from "./validate";

/** tf.layers.Layer's own constructor arguments (they come back through getConfig / fromConfig). */
export const BASE_LAYER_ARGS: readonly string[] = ["name", "trainable", "dtype", "inputShape", "batchInputShape", "batchSize", "inputDType", "weights", "customObjects"];

/** Rejects layer arguments the layer does not know (beyond tf.layers.Layer's own). */
export function checkLayerArgs(layer: string, args: unknown, known: readonly string[]): void {
  if (args === undefined || args === null || typeof args !== "object") throw new OptionError(`${layer}: args must be an object, got ${String(args)}`);
  for (const key of Object.keys(args)) {
    if (!known.includes(key) && !BASE_LAYER_ARGS.includes(key)) {
      throw new OptionError(`${layer}: unknown option '${key}'; known options are ${known.map((k) => `'${k}'`).join(", ")}`);
    }
  }
}

/** The last dimension of a (first) input shape, which must be known when a layer is built. */
export function lastDim(layer: string, inputShape: tf.Shape | tf.Shape[]): number {
  const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
  const d = shape[shape.length - 1];
  if (typeof d !== "number") throw new ShapeError(`${layer}: the last input dimension must be known when the layer is built, got ${String(d)}`);
  return d;
}

/** `[b, t, h·d]` → `[b, h, t, d]`. */
export function splitHeads(x: tf.Tensor, heads: number): tf.Tensor4D {
  const [b, t, c] = x.shape as [number, number, number];
  if (x.rank !== 3 || c % heads !== 0) throw new ShapeError(`splitHeads: x must have shape [batch, seq, heads·dim] with ${heads} heads, got ${shapeString(x.shape)}`);
  return x.reshape([b, t, heads, c / heads]).transpose([0, 2, 1, 3]);
}

/** `[b, h, t, d]` → `[b, t, h·d]`. */
export function mergeHeads(x: tf.Tensor): tf.Tensor3D {
  if (x.rank !== 4) throw new ShapeError(`mergeHeads: x must have shape [batch, heads, seq, dim], got ${shapeString(x.shape)}`);
  const [b, h, t, d] = x.shape as [number, number, number, number];
  return x.transpose([0, 2, 1, 3]).reshape([b, t, h * d]);
}
