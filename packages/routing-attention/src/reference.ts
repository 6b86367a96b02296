// Slow, obviously-correct float64 versions of the routing ops, on plain host arrays. Tests compare the
// fast ops to these. Not for production use.
import { hostArray, type HostArray } from "@attnkit/core/reference";

export type { HostArray };

const at4 = (x: HostArray, b: number, h: number, s: number, j: number): number =>
  x.data[((b * x.shape[1]! + h) * x.shape[2]! + s) * x.shape[3]! + j]!;

/** Indices of the k best of `scores` among `eligible`, descending, ties to the lower index, −1 padded. */
export function rankTop(scores: number[], k: number, eligible: (i: number) => boolean = () => true): number[] {
  const ids = scores.map((_, i) => i).filter(eligible);
  ids.sort((a, b) => (scores[b]! === scores[a]! ? a - b : scores[b]! > scores[a]! ? 1 : -1));
  const out = ids.slice(0, k);
  while (out.length < k) out.push(-1);
  return out;
}

/** softmax(scale·q·K_S)·V_S over the key set S of one query (empty set → zeros). */
function attendOver(q: HostArray, k: HostArray, v: HostArray, b: number, h: number, t: number, keys: number[], scale: number, out: HostArray, outT: number): void {
  const d = q.shape[3]!;
  const dv = v.shape[3]!;
  if (keys.length === 0) return;
  const logits = keys.map((s) => {
    let acc = 0;
    for (let j = 0; j < d; j++) acc += at4(q, b, h, t, j) * at4(k, b, h, s, j);
    return acc * scale;
  });
  const m = Math.max(...logits);
  const w = logits.map((l) => Math.exp(l - m));
  const z = w.reduce((a, c) => a + c, 0);
  for (let j = 0; j < dv; j++) {
    let acc = 0;
    keys.forEach((s, i) => (acc += (w[i]! / z) * at4(v, b, h, s, j)));
    out.data[((b * out.shape[1]! + h) * out.shape[2]! + outT) * dv + j] = acc;
  }
}

/** Mean of x[b, h, s0..s1) → d-vector. */
function meanRows(x: HostArray, b: number, h: number, s0: number, s1: number): number[] {
  const d = x.shape[3]!;
  const out = new Array<number>(d).fill(0);
  for (let s = s0; s < s1; s++) for (let j = 0; j < d; j++) out[j]! += at4(x, b, h, s, j) / (s1 - s0);
  return out;
}
const dot = (a: number[], b: number[]): number => a.reduce((acc, x, i) => acc + x * b[i]!, 0);

export interface ReferenceBraOptions {
  regionSize: number;
  topK: number;
  routing?: "per-head" | "shared";
  sharedScore?: "concat" | "mean-vectors";
  scale?: number;
}

/** 1-D BiFormer BRA, non-causal: `{ output, indices }` with indices as nested arrays [b][h][region][topK]. */
export function referenceBra(q: HostArray, k: HostArray, v: HostArray, o: ReferenceBraOptions): { output: HostArray; indices: number[][][][] } {
  const [B, H, S, D] = q.shape as [number, number, number, number];
  const R = o.regionSize;
  const n = S / R;
  const scale = o.scale ?? 1 / Math.sqrt(D);
  const output = hostArray([B, H, S, v.shape[3]!]);
  const indices: number[][][][] = [];
  for (let b = 0; b < B; b++) {
    indices.push([]);
    const qr = [...Array(H).keys()].map((h) => [...Array(n).keys()].map((i) => meanRows(q, b, h, i * R, (i + 1) * R)));
    const kr = [...Array(H).keys()].map((h) => [...Array(n).keys()].map((i) => meanRows(k, b, h, i * R, (i + 1) * R)));
    const score = (h: number, i: number, j: number): number => {
      if (o.routing !== "shared") return dot(qr[h]![i]!, kr[h]![j]!);
      if (o.sharedScore === "mean-vectors") {
        const mq = qr[0]![i]!.map((_, c) => qr.reduce((a, hh) => a + hh[i]![c]!, 0) / H);
        const mk = kr[0]![j]!.map((_, c) => kr.reduce((a, hh) => a + hh[j]![c]!, 0) / H);
        return dot(mq, mk);
      }
      return qr.reduce((a, _, hh) => a + dot(qr[hh]![i]!, kr[hh]![j]!), 0);
    };
    for (let h = 0; h < H; h++) {
      indices[b]!.push([]);
      for (let i = 0; i < n; i++) {
        const chosen = rankTop([...Array(n).keys()].map((j) => score(h, i, j)), o.topK);
        indices[b]![h]!.push(chosen);
        const keys = chosen.flatMap((j) => [...Array(R).keys()].map((r) => j * R + r));
        for (let t = i * R; t < (i + 1) * R; t++) attendOver(q, k, v, b, h, t, keys, scale, output, t);
      }
    }
  }
  return { output, indices };
}

/** MoBA (official naive semantics), queries aligned to the end of the keys: `{ output, indices [b][h][t][topK−1] }`. */
export function referenceMoba(q: HostArray, k: HostArray, v: HostArray, o: { blockSize: number; topK: number; scale?: number }): { output: HostArray; indices: number[][][][] } {
  const [B, H, Sq, D] = q.shape as [number, number, number, number];
  const Sk = k.shape[2]!;
  const bs = o.blockSize;
  const n = Math.ceil(Sk / bs);
  const scale = o.scale ?? 1 / Math.sqrt(D);
  const output = hostArray([B, H, Sq, v.shape[3]!]);
  const indices: number[][][][] = [];
  for (let b = 0; b < B; b++) {
    indices.push([]);
    for (let h = 0; h < H; h++) {
      indices[b]!.push([]);
      const means = [...Array(n).keys()].map((j) => meanRows(k, b, h, j * bs, Math.min(Sk, (j + 1) * bs)));
      for (let i = 0; i < Sq; i++) {
        const t = Sk - Sq + i;
        const own = Math.floor(t / bs);
        const qt = [...Array(D).keys()].map((j) => at4(q, b, h, i, j));
        const chosen = rankTop(means.map((m) => dot(qt, m)), o.topK - 1, (j) => j < own);
        indices[b]![h]!.push(chosen);
        const keys: number[] = [];
        for (let s = 0; s <= t; s++) if (Math.floor(s / bs) === own || chosen.includes(Math.floor(s / bs))) keys.push(s);
        attendOver(q, k, v, b, h, i, keys, scale, output, i);
      }
    }
  }
  return { output, indices };
}

/** LCE: per-channel 2-D cross-correlation with zero padding, plus bias. */
export function referenceLce(v: HostArray, kernel: HostArray, bias: HostArray | null, height: number, width: number): HostArray {
  const [B, H, S, Dv] = v.shape as [number, number, number, number];
  const [, kh, kw] = kernel.shape as [number, number, number];
  const out = hostArray([B, H, S, Dv]);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let j = 0; j < Dv; j++) {
        const c = h * Dv + j;
        for (let y = 0; y < height; y++)
          for (let x = 0; x < width; x++) {
            let acc = bias ? bias.data[c]! : 0;
            for (let dy = 0; dy < kh; dy++)
              for (let dx = 0; dx < kw; dx++) {
                const yy = y + dy - (kh - 1) / 2;
                const xx = x + dx - (kw - 1) / 2;
                if (yy < 0 || yy >= height || xx < 0 || xx >= width) continue;
                acc += kernel.data[(c * kh + dy) * kw + dx]! * at4(v, b, h, yy * width + xx, j);
              }
            out.data[((b * H + h) * S + y * width + x) * Dv + j] = acc;
          }
      }
  return out;
}

export interface ReferenceSelectorOptions {
  topTokens: number;
  causal?: boolean;
  weights?: HostArray;
  blockSize?: number;
  topBlocks?: number;
  forceSinkLocal?: boolean;
}

function selectorScores(q: HostArray, k: HostArray, w: HostArray | undefined, b: number, h: number, t: number, key: (hh: number) => number[][]): number[] {
  const H = q.shape[1]!;
  const qv = (hh: number) => [...Array(q.shape[3]!).keys()].map((j) => at4(q, b, hh, t, j));
  if (!w) return key(h).map((kv) => dot(qv(h), kv));
  const n = key(0).length;
  return [...Array(n).keys()].map((s) => {
    let acc = 0;
    for (let hh = 0; hh < H; hh++) acc += w.data[(b * q.shape[2]! + t) * H + hh]! * Math.max(0, dot(qv(hh), key(k.shape[1] === 1 ? 0 : hh)[s]!));
    return acc;
  });
}

const ascending = (xs: number[]): number[] => [...xs.filter((x) => x >= 0).sort((a, b) => a - b), ...xs.filter((x) => x < 0)];

/** Flat and HISA selections per query: `{ flat, indices, blocks }` as [b][h or 1][t][·], ascending, −1 padded. */
export function referenceSelector(q: HostArray, k: HostArray, o: ReferenceSelectorOptions): { flat: number[][][][]; indices: number[][][][]; blocks: number[][][][] } {
  const [B, H, S] = q.shape as [number, number, number];
  const causal = o.causal ?? true;
  const force = o.forceSinkLocal ?? causal;
  const bs = o.blockSize ?? S;
  const M = Math.ceil(S / bs);
  const outHeads = o.weights ? 1 : H;
  const flat: number[][][][] = [];
  const indices: number[][][][] = [];
  const blocks: number[][][][] = [];
  for (let b = 0; b < B; b++) {
    flat.push([]);
    indices.push([]);
    blocks.push([]);
    const keyRows = (hh: number) => [...Array(S).keys()].map((s) => [...Array(k.shape[3]!).keys()].map((j) => at4(k, b, hh, s, j)));
    const keyMeans = (hh: number) => [...Array(M).keys()].map((m) => meanRows(k, b, hh, m * bs, Math.min(S, (m + 1) * bs)));
    const rowsCache = [...Array(k.shape[1]!).keys()].map(keyRows);
    const meansCache = [...Array(k.shape[1]!).keys()].map(keyMeans);
    for (let h = 0; h < outHeads; h++) {
      flat[b]!.push([]);
      indices[b]!.push([]);
      blocks[b]!.push([]);
      for (let t = 0; t < S; t++) {
        const tok = selectorScores(q, k, o.weights, b, h, t, (hh) => rowsCache[hh]!);
        flat[b]![h]!.push(ascending(rankTop(tok, o.topTokens, (s) => !causal || s <= t)));
        const own = Math.floor(t / bs);
        const blk = selectorScores(q, k, o.weights, b, h, t, (hh) => meansCache[hh]!);
        const forced = (m: number) => force && (m === 0 || m === (causal ? own : M - 1));
        const ranked = blk.map((x, m) => (forced(m) ? Infinity : x));
        const chosen = rankTop(ranked, Math.min(o.topBlocks ?? M, M), (m) => !causal || m <= own);
        const chosenBlocks = ascending(chosen);
        while (chosenBlocks.length < (o.topBlocks ?? M)) chosenBlocks.push(-1);
        blocks[b]![h]!.push(chosenBlocks);
        indices[b]![h]!.push(ascending(rankTop(tok, o.topTokens, (s) => (!causal || s <= t) && chosen.includes(Math.floor(s / bs)))));
      }
    }
  }
  return { flat, indices, blocks };
}

/** Attention of each query over its listed keys (−1 ignored); `indices` [b][h or 1][t][·]. */
export function referenceSparseGather(q: HostArray, k: HostArray, v: HostArray, indices: number[][][][], scale?: number): HostArray {
  const [B, H, Sq, D] = q.shape as [number, number, number, number];
  const output = hostArray([B, H, Sq, v.shape[3]!]);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let t = 0; t < Sq; t++) {
        const row = indices[b]![indices[b]!.length === 1 ? 0 : h]![t]!;
        attendOver(q, k, v, b, h, t, row.filter((s) => s >= 0), scale ?? 1 / Math.sqrt(D), output, t);
      }
  return output;
}
