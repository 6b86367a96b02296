// Slow, obviously-correct float64 versions of core's ops, on plain arrays. Tests compare the fast ops
// to these; block packages build their own references on them. Not for production use.

/** A host-side n-d array: row-major `data` of length prod(shape). */
export interface HostArray {
  shape: number[];
  data: Float64Array;
}

export function hostArray(shape: number[], data?: ArrayLike<number>): HostArray {
  const size = shape.reduce((a, b) => a * b, 1);
  const out = new Float64Array(size);
  if (data) {
    if (data.length !== size) throw new Error(`hostArray: ${data.length} values for shape [${shape.join(", ")}]`);
    out.set(Array.from(data));
  }
  return { shape: [...shape], data: out };
}

/** Row-major strides of a shape. */
export function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1]! * shape[i + 1]!;
  return s;
}

/** Reads `a` at an index of the (larger) shape it broadcasts to (numpy rules, right-aligned). */
export function broadcastAt(a: HostArray, index: readonly number[]): number {
  const st = strides(a.shape);
  const lead = index.length - a.shape.length;
  let off = 0;
  for (let i = 0; i < a.shape.length; i++) off += (a.shape[i] === 1 ? 0 : index[lead + i]!) * st[i]!;
  return a.data[off]!;
}

export interface ReferenceAttentionOptions {
  causal?: boolean;
  mask?: HostArray;
  bias?: HostArray;
  scale?: number | null;
  window?: number | null;
}

/** softmax(scale·q·kᵀ + bias, masked)·v, queries aligned to the end of the keys; empty rows give zeros. */
export function referenceAttention(
  q: HostArray,
  k: HostArray,
  v: HostArray,
  options: ReferenceAttentionOptions = {},
): { output: HostArray; weights: HostArray } {
  const [B, H, Sq, D] = q.shape as [number, number, number, number];
  const Sk = k.shape[2]!;
  const Dv = v.shape[3]!;
  const scale = options.scale ?? 1 / Math.sqrt(D);
  const window = options.window ?? null;
  const causal = options.causal === true || window !== null;
  const offset = Sk - Sq;
  const output = hostArray([B, H, Sq, Dv]);
  const weights = hostArray([B, H, Sq, Sk]);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let i = 0; i < Sq; i++) {
        const t = i + offset;
        const logits: number[] = [];
        const keep: boolean[] = [];
        for (let s = 0; s < Sk; s++) {
          let dot = 0;
          for (let d = 0; d < D; d++) dot += q.data[((b * H + h) * Sq + i) * D + d]! * k.data[((b * H + h) * Sk + s) * D + d]!;
          let l = scale * dot;
          if (options.bias) l += broadcastAt(options.bias, [b, h, i, s]);
          let visible = Number.isFinite(l) || l === Infinity;
          if (causal && s > t) visible = false;
          if (window !== null && s <= t - window) visible = false;
          if (options.mask && broadcastAt(options.mask, [b, h, i, s]) === 0) visible = false;
          logits.push(l);
          keep.push(visible);
        }
        let m = -Infinity;
        for (let s = 0; s < Sk; s++) if (keep[s]) m = Math.max(m, logits[s]!);
        if (m === -Infinity) continue; // no visible key: zeros
        let z = 0;
        const e = logits.map((l, s) => (keep[s] ? Math.exp(l - m) : 0));
        for (const x of e) z += x;
        for (let s = 0; s < Sk; s++) {
          const p = e[s]! / z;
          weights.data[((b * H + h) * Sq + i) * Sk + s] = p;
          for (let d = 0; d < Dv; d++) output.data[((b * H + h) * Sq + i) * Dv + d]! += p * v.data[((b * H + h) * Sk + s) * Dv + d]!;
        }
      }
  return { output, weights };
}

/** Indices of the k largest entries of each last-axis row: descending, ties to the lower index, −1 beyond the valid ones. */
export function referenceTopK(scores: HostArray, k: number, valid?: HostArray): HostArray {
  const n = scores.shape[scores.shape.length - 1]!;
  const rows = scores.data.length / n;
  const out = hostArray([...scores.shape.slice(0, -1), k]);
  const lead = scores.shape.slice(0, -1);
  const ls = strides(lead);
  for (let r = 0; r < rows; r++) {
    const idx = lead.map((_, i) => Math.floor(r / ls[i]!) % lead[i]!);
    const cand: number[] = [];
    for (let j = 0; j < n; j++) if (!valid || broadcastAt(valid, [...idx, j]) !== 0) cand.push(j);
    cand.sort((a, b) => {
      const x = scores.data[r * n + a]!;
      const y = scores.data[r * n + b]!;
      return x === y ? a - b : y > x ? 1 : -1;
    });
    for (let j = 0; j < k; j++) out.data[r * k + j] = j < cand.length ? cand[j]! : -1;
  }
  return out;
}

/** Rotary embedding of `x: [..., seq, dim]` in float64. */
export function referenceRotary(x: HostArray, options: { positions?: number[]; base?: number; layout?: "half" | "interleaved" } = {}): HostArray {
  const seq = x.shape[x.shape.length - 2]!;
  const dim = x.shape[x.shape.length - 1]!;
  const base = options.base ?? 10000;
  const half = dim / 2;
  const out = hostArray(x.shape);
  const rows = x.data.length / dim;
  for (let r = 0; r < rows; r++) {
    const pos = options.positions ? options.positions[r % seq]! : r % seq;
    for (let i = 0; i < half; i++) {
      const theta = pos * base ** (-(2 * i) / dim);
      const [a, b] = options.layout === "interleaved" ? [2 * i, 2 * i + 1] : [i, i + half];
      const x1 = x.data[r * dim + a]!;
      const x2 = x.data[r * dim + b]!;
      out.data[r * dim + a] = x1 * Math.cos(theta) - x2 * Math.sin(theta);
      out.data[r * dim + b] = x2 * Math.cos(theta) + x1 * Math.sin(theta);
    }
  }
  return out;
}

/** x · rsqrt(mean(x²) + eps) · weight, or x / sqrt(sum(x²) + eps) with `kind: 'l2'`, over the last axis. */
export function referenceNorm(x: HostArray, options: { kind: "rms" | "l2"; eps?: number; weight?: ArrayLike<number> }): HostArray {
  const dim = x.shape[x.shape.length - 1]!;
  const eps = options.eps ?? 1e-6;
  const out = hostArray(x.shape);
  for (let r = 0; r < x.data.length / dim; r++) {
    let ss = 0;
    for (let j = 0; j < dim; j++) ss += x.data[r * dim + j]! ** 2;
    const denom = Math.sqrt((options.kind === "rms" ? ss / dim : ss) + eps);
    for (let j = 0; j < dim; j++) out.data[r * dim + j] = (x.data[r * dim + j]! / denom) * (options.weight ? options.weight[j]! : 1);
  }
  return out;
}
