// Host-side inputs of the collapse metrics: small reductions computed in float64 on plain arrays.
import * as tf from "@tensorflow/tfjs";
import { ShapeError, shapeString } from "@attnkit/core";

export interface HostMatrices {
  /** Row-major float64 values of each `[rows, cols]` matrix. */
  mats: Float64Array[];
  rows: number;
  cols: number;
  /** True when the input had a batch axis (rank 3). */
  batched: boolean;
}

function nestedShape(x: unknown): number[] {
  const shape: number[] = [];
  let cur = x;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0];
  }
  return shape;
}

/**
 * Reads `[rows, cols]` or (when `allowBatch`) `[b, rows, cols]` values. A tensor is read with
 * `dataSync()`: fine on cpu, wasm and WebGL, but WebGPU in Node has no synchronous read, so there
 * pass `await t.array()` instead.
 */
export function readMatrices(fn: string, arg: string, x: unknown, allowBatch: boolean): HostMatrices {
  const ranks = allowBatch ? [2, 3] : [2];
  let shape: number[];
  let flat: Float64Array;
  if (x instanceof tf.Tensor) {
    if (x.isDisposed) throw new ShapeError(`${fn}: ${arg} has already been disposed`);
    shape = x.shape;
    if (!ranks.includes(x.rank)) throw new ShapeError(`${fn}: ${arg} must have rank ${ranks.join(" or ")}, got shape ${shapeString(shape)}`);
    flat = Float64Array.from(x.dataSync() as ArrayLike<number>);
  } else if (Array.isArray(x)) {
    shape = nestedShape(x);
    if (!ranks.includes(shape.length)) throw new ShapeError(`${fn}: ${arg} must be a nested array of rank ${ranks.join(" or ")}, got rank ${shape.length}`);
    const rows = (shape.length === 3 ? (x as unknown[][]).flat() : x) as unknown[];
    flat = new Float64Array(rows.length * shape[shape.length - 1]!);
    rows.forEach((row, i) => {
      const width = shape[shape.length - 1]!;
      if (!Array.isArray(row) || row.length !== width) throw new ShapeError(`${fn}: ${arg} must be rectangular: row ${i} is not an array of length ${width}`);
      row.forEach((v, j) => {
        if (typeof v !== "number") throw new ShapeError(`${fn}: ${arg} must hold numbers, got ${typeof v} at row ${i}, column ${j}`);
        flat[i * width + j] = v;
      });
    });
  } else {
    throw new ShapeError(`${fn}: ${arg} must be a tf.Tensor or a nested number array, got ${x === null ? "null" : typeof x}`);
  }
  for (const v of flat) if (!Number.isFinite(v)) throw new ShapeError(`${fn}: ${arg} must hold finite numbers, got ${v}`);
  const batched = shape.length === 3;
  const [b, rows, cols] = batched ? (shape as [number, number, number]) : [1, shape[0]!, shape[1]!];
  const size = rows * cols;
  const mats: Float64Array[] = [];
  for (let i = 0; i < b; i++) mats.push(flat.subarray(i * size, (i + 1) * size));
  return { mats, rows, cols, batched };
}
