// Slow float64 references of the models package's own layers and of a whole dense decoder / encoder
// (softmax attention + MLP), on plain host arrays, for tests. Not for production use.
import { hostArray, referenceAttention, referenceNorm, referenceRotary, type HostArray } from "@attnkit/core/reference";

/** `x: [n, a]` · `w: [a, c]` → `[n, c]`. */
export function referenceMatMul(x: HostArray, w: HostArray): HostArray {
  const [n, a] = x.shape as [number, number];
  const c = w.shape[1]!;
  const out = hostArray([n, c]);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < c; j++) {
      let s = 0;
      for (let t = 0; t < a; t++) s += x.data[i * a + t]! * w.data[t * c + j]!;
      out.data[i * c + j] = s;
    }
  return out;
}

function act(v: number, kind: "gelu" | "relu" | "silu"): number {
  if (kind === "relu") return Math.max(0, v);
  if (kind === "silu") return v / (1 + Math.exp(-v));
  return 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
}

/** act(x·W1 + b1)·W2 + b2 on `x: [n, d]`. */
export function referenceFeedForward(x: HostArray, w: { w1: HostArray; b1: HostArray; w2: HostArray; b2: HostArray }, activation: "gelu" | "relu" | "silu" = "gelu"): HostArray {
  const h = referenceMatMul(x, w.w1);
  const f = w.b1.data.length;
  for (let i = 0; i < h.data.length; i++) h.data[i] = act(h.data[i]! + w.b1.data[i % f]!, activation);
  const y = referenceMatMul(h, w.w2);
  const d = w.b2.data.length;
  for (let i = 0; i < y.data.length; i++) y.data[i] = y.data[i]! + w.b2.data[i % d]!;
  return y;
}

export interface ReferenceSelfAttentionOptions {
  batch: number;
  heads: number;
  causal: boolean;
  rope: boolean;
  ropeBase?: number;
  window?: number | null;
}

/** Multi-head self-attention on `x: [batch·seq, d]` with kernels q, k, v `[d, h·dk]` and o `[h·dk, d]`. */
export function referenceSelfAttention(x: HostArray, w: { q: HostArray; k: HostArray; v: HostArray; o: HostArray }, o: ReferenceSelfAttentionOptions): HostArray {
  const rows = x.shape[0]!;
  const seq = rows / o.batch;
  const inner = w.q.shape[1]!;
  const dk = inner / o.heads;
  const split = (p: HostArray): HostArray => {
    const out = hostArray([o.batch, o.heads, seq, dk]);
    for (let b = 0; b < o.batch; b++) for (let h = 0; h < o.heads; h++) for (let s = 0; s < seq; s++) for (let j = 0; j < dk; j++) out.data[((b * o.heads + h) * seq + s) * dk + j] = p.data[(b * seq + s) * inner + h * dk + j]!;
    return out;
  };
  let q = split(referenceMatMul(x, w.q));
  let k = split(referenceMatMul(x, w.k));
  const v = split(referenceMatMul(x, w.v));
  if (o.rope) {
    q = referenceRotary(q, { base: o.ropeBase ?? 10000 });
    k = referenceRotary(k, { base: o.ropeBase ?? 10000 });
  }
  const att = referenceAttention(q, k, v, { causal: o.causal, window: o.window ?? null }).output;
  const merged = hostArray([rows, inner]);
  for (let b = 0; b < o.batch; b++) for (let h = 0; h < o.heads; h++) for (let s = 0; s < seq; s++) for (let j = 0; j < dk; j++) merged.data[(b * seq + s) * inner + h * dk + j] = att.data[((b * o.heads + h) * seq + s) * dk + j]!;
  return referenceMatMul(merged, w.o);
}

export interface ReferenceModelOptions {
  family: "decoder" | "encoder";
  heads: number;
  numLayers: number;
  rope: boolean;
  ropeBase?: number;
  eps?: number;
  activation?: "gelu" | "relu" | "silu";
}

/**
 * A softmax + MLP model with tied embeddings, from its weights by name (`block0_attn/query_kernel`, ...):
 * decoder → logits `[batch, seq, vocab]`, encoder → mean-pooled `[batch, d]`.
 */
export function referenceModel(ids: number[][], weights: Record<string, HostArray>, o: ReferenceModelOptions): HostArray {
  const table = weights["token_embedding/embeddings"]!;
  const [vocab, d] = table.shape as [number, number];
  const batch = ids.length;
  const seq = ids[0]!.length;
  const eps = o.eps ?? 1e-6;
  let h = hostArray([batch * seq, d], ids.flat().flatMap((t) => Array.from(table.data.subarray(t * d, (t + 1) * d))));
  const add = (a: HostArray, b: HostArray) => hostArray(a.shape, a.data.map((v, i) => v + b.data[i]!));
  const norm = (x: HostArray, name: string) => referenceNorm(x, { kind: "rms", eps, weight: weights[`${name}/weight`]!.data });
  for (let i = 0; i < o.numLayers; i++) {
    const p = `block${i}_attn/`;
    const a = referenceSelfAttention(norm(h, `block${i}_attn_norm`), { q: weights[`${p}query_kernel`]!, k: weights[`${p}key_kernel`]!, v: weights[`${p}value_kernel`]!, o: weights[`${p}output_kernel`]! }, {
      batch, heads: o.heads, causal: o.family === "decoder", rope: o.rope, ropeBase: o.ropeBase ?? 10000,
    });
    h = add(h, a);
    const f = `block${i}_ffn/`;
    h = add(h, referenceFeedForward(norm(h, `block${i}_ffn_norm`), { w1: weights[`${f}w1`]!, b1: weights[`${f}b1`]!, w2: weights[`${f}w2`]!, b2: weights[`${f}b2`]! }, o.activation ?? "gelu"));
  }
  h = norm(h, "final_norm");
  if (o.family === "encoder") {
    const out = hostArray([batch, d]);
    for (let b = 0; b < batch; b++) for (let s = 0; s < seq; s++) for (let j = 0; j < d; j++) out.data[b * d + j] = out.data[b * d + j]! + h.data[(b * seq + s) * d + j]! / seq;
    return out;
  }
  const transposed = hostArray([d, vocab]);
  for (let t = 0; t < vocab; t++) for (let j = 0; j < d; j++) transposed.data[j * vocab + t] = table.data[t * d + j]!;
  const logits = referenceMatMul(h, transposed);
  return { shape: [batch, seq, vocab], data: logits.data };
}
