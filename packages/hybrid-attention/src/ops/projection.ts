// Small helpers shared by the layers: argument checks, projections and head reshapes.
import * as tf from "@tensorflow/tfjs";
import { OptionError } from "@attnkit/core";
import type { LinearState } from "./state";

export type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;
export type LayerVariable = ReturnType<tf.layers.Layer["addWeight"]>;

/** tf.layers.Layer's own arguments (they come back through getConfig / fromConfig). */
export const BASE_LAYER_KEYS = ["name", "trainable", "dtype", "inputShape", "batchInputShape", "batchSize", "inputDType", "weights", "customObjects"];

export function checkLayerArgs(name: string, args: unknown, keys: readonly string[]): void {
  if (args === undefined || args === null || typeof args !== "object") throw new OptionError(`${name}: args must be an object with numHeads and keyDim`);
  for (const key of Object.keys(args)) {
    if (!keys.includes(key) && !BASE_LAYER_KEYS.includes(key)) throw new OptionError(`${name}: unknown option '${key}'; known options are ${keys.map((k) => `'${k}'`).join(", ")}`);
  }
}

/** The last input dimension, which must be known when a layer is built. */
export function modelDim(name: string, inputShape: tf.Shape | tf.Shape[]): number {
  const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
  const d = shape[shape.length - 1];
  if (typeof d !== "number") throw new OptionError(`${name}: the last input dimension must be known, got ${String(d)}`);
  return d;
}

/** [b·t, d] · kernel → [b, h, t, size] (heads split off the last axis). */
export function projectHeads(flat: tf.Tensor, kernel: LayerVariable, batch: number, seq: number, heads: number, size: number): tf.Tensor {
  return tf.matMul(flat, kernel.read()).reshape([batch, seq, heads, size]).transpose([0, 2, 1, 3]);
}

/** [b, h, t, d] → [b·t, h·d]. */
export function mergeHeads(o: tf.Tensor): tf.Tensor {
  const [b, h, t, d] = o.shape as number[];
  return o.transpose([0, 2, 1, 3]).reshape([b! * t!, h! * d!]);
}

/** The recurrent cache a layer carries between calls during generation. */
export interface RecurrentCache {
  state: LinearState;
  /** Tokens seen so far (positions for LRPE). */
  position: number;
}

/** What `callWithCache` returns; the caller disposes the previous cache's tensors. */
export interface OutputWithCache {
  output: tf.Tensor;
  cache: RecurrentCache;
}

export function checkLayerInput(name: string, x: tf.Tensor, dModel: number): void {
  if (x.rank !== 3 || x.shape[2] !== dModel) throw new OptionError(`${name}: input must have shape [batch, seq, ${dModel}], got [${x.shape.join(", ")}]`);
}
