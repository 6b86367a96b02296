// Frequency view of length collapse (Wang et al. 2022): DC[X] = the mean token, HC[X] = X − DC[X].
import type * as tf from "@tensorflow/tfjs";
import { readMatrices } from "./host";

function ratio(x: Float64Array, n: number, d: number): number {
  let total = 0;
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < d; j++) {
      const v = x[i * d + j]!;
      total += v * v;
      mean[j] = mean[j]! + v / n;
    }
  if (total === 0) return 0; // all-zero X: no energy, nothing collapsed
  let dc = 0;
  for (let j = 0; j < d; j++) dc += n * mean[j]! ** 2;
  return dc / total;
}

/**
 * ‖DC[X]‖²/‖X‖² for `x` `[n, d]` (a number) or `[b, n, d]` (one number per sequence); 1 means every
 * token equals the mean token (fully collapsed), 0 a zero mean. A tensor is read with `dataSync()`;
 * on WebGPU in Node pass `await x.array()`.
 */
export function dcEnergyRatio(x: tf.Tensor | number[][] | number[][][]): number | number[] {
  const { mats, rows, cols, batched } = readMatrices("dcEnergyRatio", "x", x, true);
  const values = mats.map((m) => ratio(m, rows, cols));
  return batched ? values : values[0]!;
}
