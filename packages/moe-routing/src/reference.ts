// Slow, obviously-correct float64 versions of the package's ops, on plain arrays (2-D token layout).
// Tests compare the fast ops to these. Not for production use.
import { hostArray, referenceTopK, type HostArray } from "@attnkit/core/reference";

export { hostArray, type HostArray };

function softmaxRow(row: number[]): number[] {
  const visible = row.filter((v) => v !== -Infinity);
  if (visible.length === 0) return row.map(() => 0);
  const m = Math.max(...visible);
  const e = row.map((v) => (v === -Infinity ? 0 : Math.exp(v - m)));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

const row = (a: HostArray, i: number): number[] => {
  const n = a.shape[a.shape.length - 1]!;
  return Array.from(a.data.subarray(i * n, i * n + n));
};

function matmul(a: number[][], b: number[][]): number[][] {
  return a.map((r) => b[0]!.map((_, j) => r.reduce((s, v, k) => s + v * b[k]![j]!, 0)));
}

const rows = (a: HostArray): number[][] => Array.from({ length: a.shape[0]! }, (_, i) => row(a, i));
const toHost = (m: number[][]): HostArray => hostArray([m.length, m[0]?.length ?? 0], m.flat());

export type ReferenceGate = {
  combine: HostArray;
  indices: HostArray;
  probs: HostArray;
  mixedProbs: HostArray;
};

/** Router logits and the selection of one gate; `mix` = null for the plain gate. */
function gate(
  x: HostArray,
  wGate: HostArray,
  mix: number[][] | null,
  o: { topK: number; bias?: number[]; renormalize?: boolean; weightsFrom?: "mixed" | "own"; mixing?: "probs" | "logits" },
): ReferenceGate {
  const logits = matmul(rows(x), rows(wGate)).map((r) => r.map((v, e) => v + (o.bias?.[e] ?? 0)));
  const probs = logits.map(softmaxRow);
  let mixed = probs;
  if (mix) mixed = o.mixing === "logits" ? matmul(mix, logits).map(softmaxRow) : matmul(mix, probs);
  const weights = (o.weightsFrom ?? "mixed") === "mixed" ? mixed : probs;
  const experts = wGate.shape[1]!;
  const indices = referenceTopK(toHost(mixed), o.topK);
  const combine = mixed.map((_, t) => {
    const out = new Array<number>(experts).fill(0);
    const chosen = Array.from(indices.data.subarray(t * o.topK, (t + 1) * o.topK));
    const total = chosen.reduce((s, e) => s + weights[t]![e]!, 0);
    for (const e of chosen) out[e] = o.renormalize === false ? weights[t]![e]! : total > 1e-30 ? weights[t]![e]! / total : 0;
    return out;
  });
  return { combine: toHost(combine), indices, probs: toHost(probs), mixedProbs: toHost(mixed) };
}

export function referenceTopKGate(x: HostArray, wGate: HostArray, o: { topK: number; bias?: number[]; renormalize?: boolean }): ReferenceGate {
  return gate(x, wGate, null, o);
}

export function referenceSimilarity(x: HostArray, o: { temperature: number; kind?: "dot" | "cosine"; causal?: boolean; wSim?: HostArray }): number[][] {
  let u = rows(x);
  if (o.kind === "cosine") u = u.map((r) => r.map((v) => v / Math.sqrt(r.reduce((s, w) => s + w * w, 0) + 1e-6)));
  const left = o.wSim ? matmul(u, rows(o.wSim)) : u;
  return left.map((li, i) => softmaxRow(u.map((uj, j) => (o.causal && j > i ? -Infinity : li.reduce((s, v, k) => s + v * uj[k]!, 0) / o.temperature))));
}

export function referenceSimilarityGate(
  x: HostArray,
  wGate: HostArray,
  o: { topK: number; temperature: number; kind?: "dot" | "cosine"; causal?: boolean; wSim?: HostArray; renormalize?: boolean; weightsFrom?: "mixed" | "own"; mixing?: "probs" | "logits"; bias?: number[] },
): ReferenceGate & { similarity: HostArray } {
  const s = referenceSimilarity(x, o);
  return { ...gate(x, wGate, s, o), similarity: toHost(s) };
}

/** `attention`: `[T, T]` or `[H, T, T]`. */
export function referenceAttentionGate(
  x: HostArray,
  wGate: HostArray,
  attention: HostArray,
  o: { topK: number; headReduce?: "mean" | "single"; head?: number; renormalize?: boolean; weightsFrom?: "mixed" | "own"; mixing?: "probs" | "logits"; bias?: number[] },
): ReferenceGate {
  const t = x.shape[0]!;
  const heads = attention.shape.length === 3 ? attention.shape[0]! : 1;
  const at = (h: number, i: number, j: number) => attention.data[h * t * t + i * t + j]!;
  const mix = Array.from({ length: t }, (_, i) =>
    Array.from({ length: t }, (_, j) => {
      if (o.headReduce === "single") return at(o.head ?? 0, i, j);
      let s = 0;
      for (let h = 0; h < heads; h++) s += at(h, i, j);
      return s / heads;
    }),
  );
  return gate(x, wGate, mix, o);
}

const gelu = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));

/**
 * y_t = Σ_e combine[t,e]·(act(x_t W1_e + b1_e) W2_e + b2_e). With `indices` and `capacity`, only the
 * assignments that fit their expert's queue count (priority: slot, then token); `kept` marks them.
 */
export function referenceMoeForward(
  x: HostArray,
  w: { w1: HostArray; w2: HostArray; b1?: HostArray; b2?: HostArray },
  combine: HostArray,
  o: { activation?: "relu" | "gelu-tanh"; indices?: HostArray; capacity?: number } = {},
): { output: HostArray; kept: HostArray | null } {
  const [t, d] = x.shape as [number, number];
  const [experts, , f] = w.w1.shape as [number, number, number];
  const act = o.activation === "gelu-tanh" ? gelu : (v: number) => Math.max(0, v);
  const expert = (e: number, xt: number[]): number[] => {
    const h = Array.from({ length: f }, (_, j) => act(xt.reduce((s, v, k) => s + v * w.w1.data[e * d * f + k * f + j]!, 0) + (w.b1?.data[e * f + j] ?? 0)));
    return Array.from({ length: d }, (_, c) => h.reduce((s, v, j) => s + v * w.w2.data[e * f * d + j * d + c]!, 0) + (w.b2?.data[e * d + c] ?? 0));
  };
  const out = hostArray([t, d]);
  let kept: HostArray | null = null;
  const weight = (tok: number, e: number) => combine.data[tok * experts + e]!;
  if (!o.indices) {
    for (let tok = 0; tok < t; tok++) {
      const xt = row(x, tok);
      for (let e = 0; e < experts; e++) {
        if (weight(tok, e) === 0) continue;
        expert(e, xt).forEach((v, c) => (out.data[tok * d + c]! += weight(tok, e) * v));
      }
    }
    return { output: out, kept };
  }
  const k = o.indices.shape[1]!;
  const capacity = o.capacity ?? t;
  kept = hostArray([t, k]);
  const load = new Array<number>(experts).fill(0);
  for (let j = 0; j < k; j++) {
    for (let tok = 0; tok < t; tok++) {
      const e = o.indices.data[tok * k + j]!;
      if (e < 0 || load[e]! >= capacity) continue;
      load[e]!++;
      kept.data[tok * k + j] = 1;
      expert(e, row(x, tok)).forEach((v, c) => (out.data[tok * d + c]! += weight(tok, e) * v));
    }
  }
  return { output: out, kept };
}

export function referenceLoadBalancingLoss(probs: HostArray, indices: HostArray, variant: "switch" | "topk" = "switch"): number {
  const [t, experts] = probs.shape as [number, number];
  const k = indices.shape[1]!;
  const slots = variant === "switch" ? 1 : k;
  let loss = 0;
  for (let e = 0; e < experts; e++) {
    let count = 0;
    let p = 0;
    for (let tok = 0; tok < t; tok++) {
      p += probs.data[tok * experts + e]! / t;
      for (let j = 0; j < slots; j++) if (indices.data[tok * k + j] === e) count++;
    }
    loss += (count / (t * slots)) * p;
  }
  return experts * loss;
}

export function referenceRoutingEntropy(probs: HostArray): number {
  const [t, experts] = probs.shape as [number, number];
  let h = 0;
  for (let i = 0; i < t * experts; i++) {
    const p = probs.data[i]!;
    if (p > 0) h -= p * Math.log(p);
  }
  return h / t;
}
