import * as tf from "@tensorflow/tfjs";
import { OptionError } from "./errors";

type SerializableClass = tf.serialization.SerializableConstructor<tf.serialization.Serializable> & { className: string };

/**
 * Registers a layer class for serialization under `attnkit>ClassName`, so `model.save` /
 * `tf.loadLayersModel` can rebuild it. Returns the class, so it can wrap a declaration.
 */
export function registerLayer<T extends SerializableClass>(cls: T): T {
  if (typeof cls !== "function" || typeof cls.className !== "string" || cls.className.length === 0) {
    throw new OptionError("registerLayer: cls must be a class with a static string `className`");
  }
  tf.serialization.registerClass(cls, "attnkit");
  return cls;
}
