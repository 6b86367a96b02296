import * as tf from "@tensorflow/tfjs";
import { expect } from "vitest";

function collect(x: unknown, out: Set<tf.Tensor>): void {
  if (x instanceof tf.Tensor) out.add(x);
  else if (Array.isArray(x)) x.forEach((y) => collect(y, out));
  else if (x && typeof x === "object") Object.values(x).forEach((y) => collect(y, out));
}

/**
 * Runs `fn` and asserts that afterwards `tf.memory().numTensors` equals before plus the tensors it
 * returned (found in arrays and plain objects). Disposes the returned tensors and returns nothing.
 */
export async function expectNoLeaks(fn: () => unknown): Promise<void> {
  const before = tf.memory().numTensors;
  const result = await fn();
  const returned = new Set<tf.Tensor>();
  collect(result, returned);
  const after = tf.memory().numTensors;
  tf.dispose([...returned]);
  expect(after - before, "tensors left behind beyond the ones returned").toBe(returned.size);
}
