// Float64 reference of the gated delta rule: the recurrence, token by token (fla naive_recurrent).
import { hostArray, type HostArray } from "@attnkit/core/reference";

export interface ReferenceGatedDeltaOptions {
  alpha: HostArray;
  beta: HostArray;
  qkL2Norm?: boolean;
  l2NormEps?: number;
  /** Resolved scale. */
  scale: number;
  s0?: HostArray;
}

export function referenceGatedDeltaRule(q: HostArray, k: HostArray, v: HostArray, opts: ReferenceGatedDeltaOptions): { o: HostArray; s: HostArray } {
  const [B, H, T, D] = q.shape as [number, number, number, number];
  const DV = v.shape[3]!;
  const eps = opts.l2NormEps ?? 1e-6;
  const o = hostArray([B, H, T, DV]);
  const s = hostArray([B, H, D, DV]);
  if (opts.s0) s.data.set(opts.s0.data);
  const norm = (x: Float64Array) => {
    if (!opts.qkL2Norm) return x;
    const n = Math.sqrt(x.reduce((a, y) => a + y * y, 0) + eps);
    return x.map((y) => y / n);
  };
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const so = (b * H + h) * D * DV;
      for (let t = 0; t < T; t++) {
        const row = (b * H + h) * T + t;
        const qt = norm(Float64Array.from(q.data.subarray(row * D, row * D + D))).map((x) => x * opts.scale);
        const kt = norm(Float64Array.from(k.data.subarray(row * D, row * D + D)));
        const a = opts.alpha.data[row]!;
        const be = opts.beta.data[row]!;
        for (let i = 0; i < D * DV; i++) s.data[so + i] = s.data[so + i]! * a;
        for (let e = 0; e < DV; e++) {
          let sk = 0;
          for (let j = 0; j < D; j++) sk += s.data[so + j * DV + e]! * kt[j]!;
          const u = be * (v.data[row * DV + e]! - sk);
          for (let j = 0; j < D; j++) s.data[so + j * DV + e] = s.data[so + j * DV + e]! + kt[j]! * u;
        }
        for (let e = 0; e < DV; e++) {
          let acc = 0;
          for (let j = 0; j < D; j++) acc += qt[j]! * s.data[so + j * DV + e]!;
          o.data[row * DV + e] = acc;
        }
      }
    }
  }
  return { o, s };
}
