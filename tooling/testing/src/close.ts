import * as tf from "@tensorflow/tfjs";
import { expect } from "vitest";

export interface Tolerance {
  atol?: number;
  rtol?: number;
}

type Numeric = tf.Tensor | ArrayLike<number> | number | { data: ArrayLike<number>; shape?: number[] };

// Reads are async: WebGPU in Node has no synchronous read-back (it needs OffscreenCanvas).
async function flatten(x: Numeric): Promise<{ values: ArrayLike<number>; shape: number[] | null }> {
  if (typeof x === "number") return { values: [x], shape: [] };
  if (x instanceof tf.Tensor) return { values: (await x.data()) as ArrayLike<number>, shape: x.shape };
  if ("data" in x && !(x instanceof Float32Array) && !(x instanceof Float64Array) && !Array.isArray(x)) {
    return { values: x.data, shape: x.shape ?? null };
  }
  return { values: x as ArrayLike<number>, shape: null };
}

/**
 * Asserts |actual − expected| ≤ atol + rtol·|expected| element-wise (and equal shapes when both are
 * known). NaN never passes; equal infinities do. The message names the worst element.
 */
export async function expectClose(actual: Numeric, expected: Numeric, tol: Tolerance = {}): Promise<void> {
  const { atol = 1e-5, rtol = 1e-5 } = tol;
  const a = await flatten(actual);
  const e = await flatten(expected);
  if (a.shape && e.shape) expect(a.shape, "shape").toEqual(e.shape);
  expect(a.values.length, "number of elements").toBe(e.values.length);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < e.values.length; i++) {
    const x = a.values[i]!;
    const y = e.values[i]!;
    if (x === y) continue;
    const excess = Number.isNaN(x) || Number.isNaN(y) ? Infinity : Math.abs(x - y) - (atol + rtol * Math.abs(y));
    if (excess > worstExcess || (excess > 0 && worst < 0)) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    const x = a.values[worst]!;
    const y = e.values[worst]!;
    expect.fail(`element ${worst}: got ${x}, expected ${y} (|diff| ${Math.abs(x - y).toExponential(3)} > atol ${atol} + rtol ${rtol}·|expected|)`);
  }
}

/** Asserts exact equality of integer or boolean data (indices, masks, selections). */
export async function expectEqualInts(actual: tf.Tensor | ArrayLike<number>, expected: ArrayLike<number>, shape?: number[]): Promise<void> {
  if (actual instanceof tf.Tensor) {
    if (shape) expect(actual.shape, "shape").toEqual(shape);
    expect(Array.from((await actual.data()) as ArrayLike<number>, Number)).toEqual(Array.from(expected, Number));
  } else {
    expect(Array.from(actual, Number)).toEqual(Array.from(expected, Number));
  }
}
