// Small helpers shared by the layers: projections, head reshapes and caches (argument checks: core).
import * as tf from "@tensorflow/tfjs";
import { batchMatMul, ShapeError } from "@attnkit/core";
import type { LinearState } from "./state";

export type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;
export type LayerVariable = ReturnType<tf.layers.Layer["addWeight"]>;

/** [b·t, d] · kernel → [b, h, t, size] (heads split off the last axis). */
export function projectHeads(flat: tf.Tensor, kernel: LayerVariable, batch: number, seq: number, heads: number, size: number): tf.Tensor {
  return batchMatMul(flat, kernel.read()).reshape([batch, seq, heads, size]).transpose([0, 2, 1, 3]);
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
  /** GatedDeltaNet's short convolutions: the last convSize − 1 projected q, k and v rows. */
  conv?: tf.Tensor[];
}

/** What `callWithCache` returns; the caller disposes the previous cache's tensors. */
export interface OutputWithCache {
  output: tf.Tensor;
  cache: RecurrentCache;
}

export function checkLayerInput(name: string, x: tf.Tensor, dModel: number): void {
  if (x.rank !== 3 || x.shape[2] !== dModel) throw new ShapeError(`${name}: input must have shape [batch, seq, ${dModel}], got [${x.shape.join(", ")}]`);
}
