// Small helpers shared by the models package's own layers.
import * as tf from "@tensorflow/tfjs";

export type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;
export type LayerVariable = ReturnType<tf.layers.Layer["addWeight"]>;

/** The first input of a call (layers are called with one tensor or a list). */
export function firstInput<T>(inputs: T | T[]): T {
  return Array.isArray(inputs) ? inputs[0]! : inputs;
}

/** The shape of the first input. */
export function firstShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
  return (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
}

/** Glorot-uniform with an optional seed (a seed per weight keeps the weights distinct). */
export function glorot(seed: number | null, offset: number): ReturnType<typeof tf.initializers.glorotUniform> {
  return tf.initializers.glorotUniform(seed === null ? {} : { seed: seed + offset });
}
