// JSON fixtures: every tensor is { shape, dtype, data } with flat row-major data; null stands for +∞.
import { readFileSync } from "node:fs";
import * as tf from "@tensorflow/tfjs";
import { hostArray, type HostArray } from "@attnkit/core/reference";

export interface FixtureTensor {
  shape: number[];
  dtype: string;
  data: (number | boolean | null)[];
}

/** Reads a JSON fixture (a file in the package's own `test/fixtures/`). */
export function loadFixture<T = Record<string, unknown>>(url: URL): T {
  return JSON.parse(readFileSync(url, "utf8")) as T;
}

const values = (t: FixtureTensor): number[] => t.data.map((x) => (x === null ? Infinity : typeof x === "boolean" ? Number(x) : x));

export function isFixtureTensor(x: unknown): x is FixtureTensor {
  return typeof x === "object" && x !== null && "shape" in x && "data" in x && Array.isArray((x as FixtureTensor).data);
}

/** A fixture tensor as a TF.js tensor (float32 for float inputs, int32 or bool otherwise). */
export function toTensor(t: FixtureTensor): tf.Tensor {
  const dtype = t.dtype === "int32" || t.dtype === "int64" ? "int32" : t.dtype === "bool" ? "bool" : "float32";
  return tf.tensor(values(t), t.shape, dtype);
}

/** A fixture tensor as float64 host data (for references and comparisons). */
export function toHost(t: FixtureTensor): HostArray {
  return hostArray(t.shape, values(t));
}

/** Plain numbers of a fixture tensor. */
export function toNumbers(t: FixtureTensor): number[] {
  return values(t);
}
