// Float64 references of linear and decay linear attention: the dense definitions, plain loops.
import { hostArray, type HostArray } from "@attnkit/core/reference";

export interface ReferenceLinearOptions {
  featureMap?: "elu1" | "relu" | "identity";
  normalize?: boolean;
  causal?: boolean;
  /** Resolved scale (multiplies φ(q)). */
  scale: number;
  eps?: number;
  /** λ per head (default 1: plain linear attention). Non-causal uses λ^{|t−s|}. */
  decay?: number[];
  /** Initial state s [b, h, dk, dv] and z [b, h, dk] (causal only). */
  s0?: HostArray;
  z0?: HostArray;
}

const phi = (x: number, map: string): number => (map === "elu1" ? (x > 0 ? x + 1 : Math.exp(x)) : map === "relu" ? Math.max(x, 0) : x);

/** o [b, h, t, dv], final s [b, h, dk, dv] and z [b, h, dk] (sums over every key when non-causal). */
export function referenceLinearAttention(q: HostArray, k: HostArray, v: HostArray, opts: ReferenceLinearOptions): { o: HostArray; s: HostArray; z: HostArray } {
  const [B, H, T, D] = q.shape as [number, number, number, number];
  const DV = v.shape[3]!;
  const map = opts.featureMap ?? "identity";
  const normalize = opts.normalize ?? false;
  const causal = opts.causal ?? true;
  const eps = opts.eps ?? 1e-10;
  const o = hostArray([B, H, T, DV]);
  const s = hostArray([B, H, D, DV]);
  const z = hostArray([B, H, D]);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const lam = opts.decay?.[h] ?? 1;
      const base = (b * H + h) * T;
      const qf = (t: number, j: number) => opts.scale * phi(q.data[(base + t) * D + j]!, map);
      const kf = (t: number, j: number) => phi(k.data[(base + t) * D + j]!, map);
      for (let t = 0; t < T; t++) {
        let den = 0;
        const num = new Float64Array(DV);
        for (let r = 0; r < T; r++) {
          if (causal && r > t) continue;
          const w = lam ** Math.abs(t - r);
          let dot = 0;
          for (let j = 0; j < D; j++) dot += qf(t, j) * kf(r, j);
          den += w * dot;
          for (let e = 0; e < DV; e++) num[e] = num[e]! + w * dot * v.data[(base + r) * DV + e]!;
        }
        // Initial state, decayed λ^{t+1}.
        const w0 = lam ** (t + 1);
        for (let j = 0; j < D; j++) {
          const qj = qf(t, j);
          if (opts.s0) for (let e = 0; e < DV; e++) num[e] = num[e]! + w0 * qj * opts.s0.data[((b * H + h) * D + j) * DV + e]!;
          if (opts.z0) den += w0 * qj * opts.z0.data[(b * H + h) * D + j]!;
        }
        for (let e = 0; e < DV; e++) o.data[(base + t) * DV + e] = normalize ? num[e]! / (den + eps) : num[e]!;
      }
      for (let j = 0; j < D; j++) {
        const zi = (b * H + h) * D + j;
        z.data[zi] = (opts.z0?.data[zi] ?? 0) * lam ** T;
        for (let r = 0; r < T; r++) z.data[zi] = z.data[zi]! + lam ** (T - 1 - r) * kf(r, j);
        for (let e = 0; e < DV; e++) {
          const si = zi * DV + e;
          s.data[si] = (opts.s0?.data[si] ?? 0) * lam ** T;
          for (let r = 0; r < T; r++) s.data[si] = s.data[si]! + lam ** (T - 1 - r) * kf(r, j) * v.data[(base + r) * DV + e]!;
        }
      }
    }
  }
  return { o, s, z };
}
