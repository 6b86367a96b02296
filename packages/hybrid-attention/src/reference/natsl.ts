// Float64 references for NAtS-L (research/hybrid.md §5): the softmax branch by its visibility rule, the
// Gated DeltaNet branch token by token with per-block start states, and the mean-pooled router.
import { hostArray, type HostArray } from "@attnkit/core/reference";

export interface ReferenceTokenHybridOptions {
  alpha: HostArray;
  beta: HostArray;
  route: HostArray;
  blockSize: number;
  wAttn?: number | HostArray;
  wLin?: number | HostArray;
  gate?: HostArray;
  qkL2Norm?: boolean;
  l2NormEps?: number;
  decaySoftmaxBlocks?: boolean;
  scale?: number | null;
  normEps?: number;
}

/** NAtS-L hybrid: `{ output, attention, linear }` `[b, h, t, dv]` for a fixed 0/1 route `[b, h, nBlocks]`. */
export function referenceTokenHybrid(q: HostArray, k: HostArray, v: HostArray, o: ReferenceTokenHybridOptions): { output: HostArray; attention: HostArray; linear: HostArray } {
  const [B, H, T, D] = q.shape as [number, number, number, number];
  const Dv = v.shape[3]!;
  const bs = o.blockSize;
  const nB = Math.ceil(T / bs);
  const scale = o.scale ?? 1 / Math.sqrt(D);
  const l2 = o.qkL2Norm ?? true;
  const l2Eps = o.l2NormEps ?? 1e-6;
  const decay = o.decaySoftmaxBlocks ?? true;
  const normEps = o.normEps ?? 1e-6;
  const attention = hostArray([B, H, T, Dv]);
  const linear = hostArray([B, H, T, Dv]);
  const output = hostArray([B, H, T, Dv]);
  const row = (a: HostArray, b: number, h: number, t: number) => {
    const w = a.shape[3]!;
    return Array.from(a.data.subarray(((b * H + h) * T + t) * w, ((b * H + h) * T + t + 1) * w));
  };
  const norm = (x: number[]) => {
    const n = Math.sqrt(x.reduce((a, y) => a + y * y, 0) + l2Eps);
    return x.map((y) => y / n);
  };
  const weightAt = (w: number | HostArray | undefined, b: number, h: number, t: number) =>
    w === undefined ? 0.5 : typeof w === "number" ? w : w.data[(b * H + h) * T + t]!;
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const route = (blk: number) => o.route.data[(b * H + h) * nB + blk]!;
      // Softmax branch: keys of softmax blocks and of the query's own block, causally.
      for (let t = 0; t < T; t++) {
        const qt = row(q, b, h, t);
        const keys: number[] = [];
        for (let j = 0; j <= t; j++) if (route(Math.floor(j / bs)) === 1 || Math.floor(j / bs) === Math.floor(t / bs)) keys.push(j);
        const s = keys.map((j) => scale * row(k, b, h, j).reduce((a, x, d) => a + x * qt[d]!, 0));
        const m = Math.max(...s);
        const e = s.map((x) => Math.exp(x - m));
        const z = e.reduce((a, x) => a + x, 0);
        for (let d = 0; d < Dv; d++) attention.data[((b * H + h) * T + t) * Dv + d] = keys.reduce((a, j, n) => a + (e[n]! / z) * row(v, b, h, j)[d]!, 0);
      }
      // Gated DeltaNet branch: each block runs from its start state; only GDN blocks write the state.
      let S = Array.from({ length: D }, () => new Float64Array(Dv));
      for (let blk = 0; blk < nB; blk++) {
        const start = S.map((r) => Float64Array.from(r));
        let cur = S.map((r) => Float64Array.from(r));
        let prod = 1;
        for (let t = blk * bs; t < Math.min(T, (blk + 1) * bs); t++) {
          const a = o.alpha.data[(b * H + h) * T + t]!;
          const be = o.beta.data[(b * H + h) * T + t]!;
          prod *= a;
          const kt = l2 ? norm(row(k, b, h, t)) : row(k, b, h, t);
          const qt = (l2 ? norm(row(q, b, h, t)) : row(q, b, h, t)).map((x) => x * scale);
          const vt = row(v, b, h, t);
          cur = cur.map((r) => r.map((x) => x * a));
          const u = vt.map((x, e) => be * (x - kt.reduce((acc, kd, d) => acc + kd * cur[d]![e]!, 0)));
          for (let d = 0; d < D; d++) for (let e = 0; e < Dv; e++) cur[d]![e]! += kt[d]! * u[e]!;
          for (let e = 0; e < Dv; e++) linear.data[((b * H + h) * T + t) * Dv + e] = qt.reduce((acc, qd, d) => acc + qd * cur[d]![e]!, 0);
        }
        S = route(blk) === 1 ? start.map((r) => r.map((x) => x * (decay ? prod : 1))) : cur;
      }
      for (let t = 0; t < T; t++) {
        const at = row(attention, b, h, t);
        const lt = row(linear, b, h, t);
        const rms = (x: number[]) => {
          const r = Math.sqrt(x.reduce((a, y) => a + y * y, 0) / x.length + normEps);
          return x.map((y) => y / r);
        };
        const an = rms(at);
        const ln = rms(lt);
        const g = o.gate ? row(o.gate, b, h, t) : null;
        for (let e = 0; e < Dv; e++) {
          let y = weightAt(o.wLin, b, h, t) * ln[e]! + weightAt(o.wAttn, b, h, t) * an[e]!;
          if (g) y *= g[e]! / (1 + Math.exp(-g[e]!));
          output.data[((b * H + h) * T + t) * Dv + e] = y;
        }
      }
    }
  return { output, attention, linear };
}

/** NAtS-L router: logits `[b, h, nBlocks, 2]` (op 0 = softmax, 1 = GDN) and route `[b, h, nBlocks]` (1 = softmax, ties too). */
export function referenceNatslRoute(x: HostArray, wScore: HostArray, heads: number, blockSize: number): { logits: HostArray; route: HostArray } {
  const [B, T, M] = x.shape as [number, number, number];
  const nB = Math.ceil(T / blockSize);
  const logits = hostArray([B, heads, nB, 2]);
  const route = hostArray([B, heads, nB]);
  for (let b = 0; b < B; b++)
    for (let blk = 0; blk < nB; blk++) {
      const t1 = Math.min(T, (blk + 1) * blockSize);
      const mean = new Float64Array(M);
      for (let t = blk * blockSize; t < t1; t++) for (let m = 0; m < M; m++) mean[m]! += x.data[(b * T + t) * M + m]! / (t1 - blk * blockSize);
      for (let h = 0; h < heads; h++) {
        const l = [0, 1].map((op) => mean.reduce((a, xm, m) => a + xm * wScore.data[m * 2 * heads + h * 2 + op]!, 0));
        logits.data.set(l, ((b * heads + h) * nB + blk) * 2);
        route.data[(b * heads + h) * nB + blk] = l[0]! >= l[1]! ? 1 : 0;
      }
    }
  return { logits, route };
}
