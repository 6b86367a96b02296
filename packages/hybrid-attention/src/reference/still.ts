// Float64 references for STILL (NP-Map, self-saliency, hybrid output): direct loops over the definitions
// in research/hybrid.md §6. Slow and obviously correct; tests compare the tensor ops to these.
import { hostArray, type HostArray } from "@attnkit/core/reference";

const at4 = (a: HostArray, b: number, h: number, t: number, d: number): number =>
  a.data[((b * a.shape[1]! + h) * a.shape[2]! + t) * a.shape[3]! + d]!;

function softmax(u: number[]): number[] {
  const m = Math.max(...u);
  const e = u.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

export interface ReferenceNpMapOptions {
  weight?: HostArray;
  householder?: HostArray;
  eps?: number;
  clampMin?: number;
  householderEps?: number;
}

/** NP-Map φ(x) `[b, h, t, 2f]`. */
export function referenceNpMap(x: HostArray, options: ReferenceNpMapOptions = {}): HostArray {
  const [B, H, T, D] = x.shape as [number, number, number, number];
  const { weight, householder, eps = 1e-12, clampMin = 1e-12, householderEps = 1e-6 } = options;
  const F = weight ? weight.shape[2]! : D;
  const out = hostArray([B, H, T, 2 * F]);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let t = 0; t < T; t++) {
        let xs = Array.from({ length: D }, (_, d) => at4(x, b, h, t, d));
        const r = Math.sqrt(xs.reduce((a, v) => a + v * v, 0));
        if (householder) {
          const hv = Array.from({ length: D }, (_, d) => householder.data[h * D + d]!);
          const n = Math.max(Math.sqrt(hv.reduce((a, v) => a + v * v, 0)), householderEps);
          const u = hv.map((v) => v / n);
          const dot = xs.reduce((a, v, d) => a + v * u[d]!, 0);
          xs = xs.map((v, d) => v - 2 * dot * u[d]!);
        }
        let y = xs;
        if (weight) {
          y = Array.from({ length: F }, (_, f) => {
            let s = 0;
            for (let d = 0; d < D; d++) s += xs[d]! * weight.data[(h * D + d) * F + f]!;
            return s;
          });
        }
        const ny = Math.max(Math.sqrt(y.reduce((a, v) => a + v * v, 0)), eps);
        const u = y.map((v) => (v / ny) * r);
        const phi = [...softmax(u), ...softmax(u.map((v) => -v))].map((v) => Math.max(v, clampMin));
        out.data.set(phi, ((b * H + h) * T + t) * 2 * F);
      }
  return out;
}

export interface ReferenceSaliencyOptions {
  chunkSize: number;
  variant?: "paper" | "code";
  scale?: number | null;
  eps?: number;
}

/**
 * Self-saliency `[b, h, t]`: KL(softmax over the last C tokens ‖ the same without the token itself).
 * 'code' is the official smoothing over C rolling columns (column = key position mod C, masked columns
 * of chunk 0 included) with the last column of a2 overwritten by 1/C + eps. Token 0 is +∞.
 */
export function referenceStillSaliency(q: HostArray, k: HostArray, options: ReferenceSaliencyOptions): HostArray {
  const [B, H, T, D] = q.shape as [number, number, number, number];
  const C = options.chunkSize;
  const variant = options.variant ?? "paper";
  const scale = options.scale ?? 1 / Math.sqrt(D);
  const eps = options.eps ?? 1e-8;
  const out = hostArray([B, H, T]);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let t = 0; t < T; t++) {
        const idx = (b * H + h) * T + t;
        if (t === 0) {
          out.data[idx] = Infinity;
          continue;
        }
        const lo = Math.max(0, t - C + 1);
        const s = new Map<number, number>();
        for (let j = lo; j <= t; j++) {
          let dot = 0;
          for (let d = 0; d < D; d++) dot += at4(q, b, h, t, d) * at4(k, b, h, j, d);
          s.set(j, scale * dot);
        }
        const m = Math.max(...s.values());
        let zd = 0;
        let zn = 0;
        for (const [j, v] of s) {
          zd += Math.exp(v - m);
          if (j !== t) zn += Math.exp(v - m);
        }
        const diag = (j: number) => (s.has(j) ? Math.exp(s.get(j)! - m) / zd : 0);
        const nodiag = (j: number) => (s.has(j) && j !== t ? Math.exp(s.get(j)! - m) / zn : 0);
        let score = 0;
        if (variant === "paper") {
          for (const j of s.keys()) {
            const a = diag(j);
            score += a * Math.log((a + eps) / (nodiag(j) + eps));
          }
        } else {
          // Rolling columns: column c holds the key at position ≡ c (mod C) within the last C positions.
          for (let c = 0; c < C; c++) {
            const i = t % C;
            const j = c <= i ? t - i + c : t - i - C + c;
            const a1 = (diag(j) + eps) / (1 + C * eps);
            const a2 = c === C - 1 ? 1 / C + eps : (nodiag(j) + eps) / (1 + C * eps + 1 / C);
            score += a1 * Math.log(a1 / (a2 + eps));
          }
        }
        out.data[idx] = score;
      }
  return out;
}

/** Per chunk of C tokens, the topK most salient (ties to the lower index) as a 0/1 `[b, h, t]` mask. */
export function referenceStillSelect(saliency: HostArray, chunkSize: number, topK: number): HostArray {
  const [B, H, T] = saliency.shape as [number, number, number];
  const out = hostArray([B, H, T]);
  for (let bh = 0; bh < B * H; bh++)
    for (let c0 = 0; c0 < T; c0 += chunkSize) {
      const ids = Array.from({ length: Math.min(chunkSize, T - c0) }, (_, i) => c0 + i);
      ids.sort((x, y) => saliency.data[bh * T + y]! - saliency.data[bh * T + x]! || x - y);
      for (const j of ids.slice(0, topK)) out.data[bh * T + j] = 1;
    }
  return out;
}

export interface ReferenceStillOptions {
  fq: HostArray;
  fk: HostArray;
  chunkSize: number;
  topK: number;
  saliency?: "paper" | "code";
  gate?: HostArray;
  phantomFirstChunk?: boolean;
  scale?: number | null;
  eps?: number;
}

/** STILL hybrid attention (dense definition): `{ output, salientMask, saliency }`. */
export function referenceStillAttention(
  q: HostArray,
  k: HostArray,
  v: HostArray,
  options: ReferenceStillOptions,
): { output: HostArray; salientMask: HostArray; saliency: HostArray } {
  const [B, H, T, D] = q.shape as [number, number, number, number];
  const Dv = v.shape[3]!;
  const C = options.chunkSize;
  const scale = options.scale ?? 1 / Math.sqrt(D);
  const eps = options.eps ?? 1e-6;
  const { fq, fk, gate } = options;
  const F = fq.shape[3]!;
  const saliency = referenceStillSaliency(q, k, { chunkSize: C, variant: options.saliency ?? "paper", scale });
  const salient = referenceStillSelect(saliency, C, options.topK);
  const output = hostArray([B, H, T, Dv]);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let t = 0; t < T; t++) {
        const c = Math.floor(t / C);
        const exact: number[] = [];
        const linear: number[] = [];
        for (let j = 0; j <= t; j++) {
          const cj = Math.floor(j / C);
          if (cj >= c - 1 || salient.data[(b * H + h) * T + j] === 1) exact.push(j);
          else linear.push(j);
        }
        const s = exact.map((j) => {
          let dot = 0;
          for (let d = 0; d < D; d++) dot += at4(q, b, h, t, d) * at4(k, b, h, j, d);
          return scale * dot;
        });
        const phantom = options.phantomFirstChunk === true && c === 0;
        let m = Math.max(...s);
        if (phantom) m = Math.max(m, 0);
        let den = phantom ? C * Math.exp(-m) : 0;
        const num = new Float64Array(Dv);
        exact.forEach((j, n) => {
          const w = Math.exp(s[n]! - m);
          den += w;
          for (let e = 0; e < Dv; e++) num[e]! += w * at4(v, b, h, j, e);
        });
        const lin = new Float64Array(Dv);
        for (const j of linear) {
          let w = 0;
          for (let f = 0; f < F; f++) w += at4(fq, b, h, t, f) * at4(fk, b, h, j, f);
          den += w;
          for (let e = 0; e < Dv; e++) lin[e]! += w * at4(v, b, h, j, e);
        }
        for (let e = 0; e < Dv; e++) {
          const g = gate ? at4(gate, b, h, t, e) : 1;
          output.data[((b * H + h) * T + t) * Dv + e] = (num[e]! + g * lin[e]!) / (den + eps);
        }
      }
  return { output, salientMask: salient, saliency };
}
