// Slow, obviously-correct float64 versions of the landmark ops, written from the readable definition
// in research/landmark-tempscale-moe.md §1 (not from the fast formulation). Tests compare against these.
import { hostArray, type HostArray } from "@attnkit/core/reference";

export type { HostArray };
export { hostArray };

/** Grouped softmax of one score row `s[0..Tk)` for a query at key position `pos`. */
function groupedRow(s: number[], isMem: boolean[], pos: number): number[] {
  const tk = s.length;
  const block: number[] = [];
  let count = 0;
  for (let j = 0; j < tk; j++) {
    block.push(count);
    if (isMem[j]) count++;
  }
  const own = block[pos]!;
  const inGlobal = (j: number) => j <= pos && ((!isMem[j] && block[j] === own) || (isMem[j] && block[j]! < own));
  const w = new Array<number>(tk).fill(0);
  let m0 = -Infinity;
  for (let j = 0; j < tk; j++) if (inGlobal(j)) m0 = Math.max(m0, s[j]!);
  if (m0 === -Infinity) return w;
  let z0 = 0;
  for (let j = 0; j < tk; j++) if (inGlobal(j)) z0 += Math.exp(s[j]! - m0);
  const p0 = (j: number) => (inGlobal(j) ? Math.exp(s[j]! - m0) / z0 : 0);
  for (let j = 0; j < tk; j++) {
    if (isMem[j] || j > pos) continue;
    if (block[j] === own) {
      w[j] = p0(j);
      continue;
    }
    // An earlier block: softmax within the block times its landmark's global probability.
    const b = block[j]!;
    const members = [...Array(tk).keys()].filter((l) => !isMem[l] && block[l] === b);
    const mb = Math.max(...members.map((l) => s[l]!));
    const zb = members.reduce((acc, l) => acc + Math.exp(s[l]! - mb), 0);
    const landmark = [...Array(tk).keys()].find((l) => isMem[l] && block[l] === b);
    w[j] = landmark === undefined ? 0 : (Math.exp(s[j]! - mb) / zb) * p0(landmark);
  }
  return w;
}

/** Grouped softmax of `scores: [..., Tq, Tk]`, queries aligned to the end of the keys. */
export function referenceGroupedSoftmax(scores: HostArray, isMem: boolean[]): HostArray {
  const tq = scores.shape[scores.shape.length - 2]!;
  const tk = scores.shape[scores.shape.length - 1]!;
  const out = hostArray([...scores.shape]);
  const rows = scores.data.length / tk;
  for (let r = 0; r < rows; r++) {
    const row = Array.from(scores.data.slice(r * tk, (r + 1) * tk));
    const w = groupedRow(row, isMem, tk - tq + (r % tq));
    w.forEach((x, j) => (out.data[r * tk + j] = x));
  }
  return out;
}

/** Half-split (LLaMA) rotation of one vector to position `pos`. */
export function rotateVector(x: number[], pos: number, base: number): number[] {
  const d = x.length;
  const half = d / 2;
  const out = new Array<number>(d);
  for (let i = 0; i < half; i++) {
    const a = pos * base ** (-(2 * i) / d);
    out[i] = x[i]! * Math.cos(a) - x[i + half]! * Math.sin(a);
    out[i + half] = x[i + half]! * Math.cos(a) + x[i]! * Math.sin(a);
  }
  return out;
}

const row = (x: HostArray, b: number, h: number, t: number): number[] => {
  const [, H, T, D] = x.shape as [number, number, number, number];
  const start = ((b * H + h) * T + t) * D;
  return Array.from(x.data.slice(start, start + D));
};
const dot = (a: number[], b: number[]) => a.reduce((acc, x, i) => acc + x * b[i]!, 0);

export const standardLayout = (length: number, blockSize: number): boolean[] =>
  Array.from({ length }, (_, p) => p % (blockSize + 1) === blockSize);

/** Training-time grouped landmark attention (queries are the last seqQ keys). */
export function referenceLandmarkAttention(
  q: HostArray,
  k: HostArray,
  v: HostArray,
  options: { blockSize: number; scale?: number | null; ropeBase?: number | null },
): { output: HostArray; weights: HostArray } {
  const [B, H, Tq, D] = q.shape as [number, number, number, number];
  const Tk = k.shape[2]!;
  const Dv = v.shape[3]!;
  const scale = options.scale ?? 1 / Math.sqrt(D);
  const rope = options.ropeBase ?? null;
  const isMem = standardLayout(Tk, options.blockSize);
  const output = hostArray([B, H, Tq, Dv]);
  const weights = hostArray([B, H, Tq, Tk]);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let i = 0; i < Tq; i++) {
        const pos = Tk - Tq + i;
        const qi = rope === null ? row(q, b, h, i) : rotateVector(row(q, b, h, i), pos, rope);
        const s = Array.from({ length: Tk }, (_, j) => scale * dot(qi, rope === null ? row(k, b, h, j) : rotateVector(row(k, b, h, j), j, rope)));
        const w = groupedRow(s, isMem, pos);
        for (let j = 0; j < Tk; j++) {
          weights.data[((b * H + h) * Tq + i) * Tk + j] = w[j]!;
          const vj = row(v, b, h, j);
          for (let d = 0; d < Dv; d++) output.data[((b * H + h) * Tq + i) * Dv + d]! += w[j]! * vj[d]!;
        }
      }
  return { output, weights };
}

/** Top-k of a row: descending score, ties to the lower index. */
const topK = (xs: number[], k: number): number[] =>
  [...xs.keys()].sort((a, b) => xs[b]! - xs[a]! || a - b).slice(0, k);

const softmax = (xs: number[]): number[] => {
  const m = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - m));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / z);
};

/** Retrieval attention with the official stingy positions (llama_mem.py) when ropeBase is set. */
export function referenceRetrieval(
  q: HostArray,
  k: HostArray,
  v: HostArray,
  options: { blockSize: number; topK: number; memoryLength: number; selection?: string; scale?: number | null; ropeBase?: number | null },
): { output: HostArray; selection: number[][][][]; scores: number[][][][] } {
  const [B, H, T, D] = q.shape as [number, number, number, number];
  const Dv = v.shape[3]!;
  const bs = options.blockSize;
  const n = bs + 1;
  const M = options.memoryLength;
  const nMem = M / n;
  const kk = Math.min(options.topK, nMem);
  const C = T - M;
  const scale = options.scale ?? 1 / Math.sqrt(D);
  const rope = options.ropeBase ?? null;
  const selection = options.selection ?? "per-token-and-head";
  const prefix = M - (kk + 1) * n;
  const recent = (m: number) => m >= nMem - kk;
  const rot = (x: number[], p: number) => (rope === null ? x : rotateVector(x, p, rope));
  const qAt = (b: number, h: number, i: number) => rot(row(q, b, h, M + i), M + i).map((x) => x * scale);
  // Ranking logits [b][h][i][m].
  const logits = [...Array(B).keys()].map((b) =>
    [...Array(H).keys()].map((h) =>
      [...Array(C).keys()].map((i) =>
        [...Array(nMem).keys()].map((m) => dot(qAt(b, h, i), rot(row(k, b, h, m * n + bs), prefix + (recent(m) ? m - (nMem - kk) + 1 : 0) * n + bs))),
      ),
    ),
  );
  const scores = logits.map((lb, b) =>
    lb.map((lh, h) =>
      lh.map((li, i) => {
        if (selection === "per-token-and-head") return li;
        if (selection === "max-over-heads") return li.map((_, m) => Math.max(...logits[b]!.map((lh2) => softmax(lh2[i]!)[m]!)));
        return li.map((_, m) => Math.max(...logits[b]![h]!.map((li2) => softmax(li2)[m]!)));
      }),
    ),
  );
  const output = hostArray([B, H, C, Dv]);
  const chosen = scores.map((sb) => sb.map((sh) => sh.map((si) => topK(si, kk).sort((a, b) => a - b))));
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let i = 0; i < C; i++) {
        // Keys: the selected blocks at their slot positions, then the local keys up to the query.
        const keys: { at: number; pos: number }[] = [];
        chosen[b]![h]![i]!.forEach((m, s) => {
          const slot = recent(m) ? s + 1 : s;
          for (let j = 0; j < n; j++) keys.push({ at: m * n + j, pos: prefix + slot * n + j });
        });
        for (let j = M; j <= M + i; j++) keys.push({ at: j, pos: j });
        const isMem = keys.map(({ at }) => at % n === bs);
        const qi = qAt(b, h, i);
        const s = keys.map(({ at, pos }) => dot(qi, rot(row(k, b, h, at), pos)));
        const w = groupedRow(s, isMem, keys.length - 1);
        keys.forEach(({ at }, j) => {
          const vj = row(v, b, h, at);
          for (let d = 0; d < Dv; d++) output.data[((b * H + h) * C + i) * Dv + d]! += w[j]! * vj[d]!;
        });
      }
  return { output, selection: chosen, scores };
}
