// Float64 references of the TransNormer helpers.
import { hostArray, type HostArray } from "@attnkit/core/reference";

/** x·rsqrt(mean(x²) + eps) over the last axis. */
export function referenceSrmsNorm(x: HostArray, eps = 1e-6): HostArray {
  const d = x.shape[x.shape.length - 1]!;
  const y = hostArray(x.shape);
  for (let r = 0; r < x.data.length / d; r++) {
    let ms = 0;
    for (let j = 0; j < d; j++) ms += x.data[r * d + j]! ** 2 / d;
    for (let j = 0; j < d; j++) y.data[r * d + j] = x.data[r * d + j]! / Math.sqrt(ms + eps);
  }
  return y;
}

/** [x cos θn, x sin θn] with θ_{h,j} = 10000^(−2(hD+j)/(HD)), n = offset + t. */
export function referenceLrpe(x: HostArray, offset = 0): HostArray {
  const [B, H, T, D] = x.shape as [number, number, number, number];
  const y = hostArray([B, H, T, 2 * D]);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let t = 0; t < T; t++)
        for (let j = 0; j < D; j++) {
          const theta = 10000 ** ((-2 * (h * D + j)) / (H * D));
          const xv = x.data[((b * H + h) * T + t) * D + j]!;
          const row = ((b * H + h) * T + t) * 2 * D;
          y.data[row + j] = xv * Math.cos(theta * (offset + t));
          y.data[row + D + j] = xv * Math.sin(theta * (offset + t));
        }
  return y;
}
