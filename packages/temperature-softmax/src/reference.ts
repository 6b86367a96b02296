// Slow, obviously-correct float64 versions of this package's ops, on plain arrays. Tests compare to them.
import { hostArray, broadcastAt, type HostArray } from "@attnkit/core/reference";

export interface ReferenceOptions {
  causal?: boolean;
  /** `[b, sk]`, non-zero = keep. */
  keyMask?: HostArray;
  bias?: HostArray;
  scale?: number | null;
}

/**
 * softmax(f(b, h, i, n) · (scale·q·kᵀ + bias) / τ_h)·v over the visible keys; f and τ per case below.
 * n is the number of visible keys of the query. Rows with no visible key give zeros.
 */
function generalAttention(
  q: HostArray,
  k: HostArray,
  v: HostArray,
  options: ReferenceOptions,
  rowFactor: (h: number, n: number) => number,
): { output: HostArray; weights: HostArray } {
  const [B, H, Sq, D] = q.shape as [number, number, number, number];
  const Sk = k.shape[2]!;
  const Dv = v.shape[3]!;
  const scale = options.scale ?? 1 / Math.sqrt(D);
  const output = hostArray([B, H, Sq, Dv]);
  const weights = hostArray([B, H, Sq, Sk]);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let i = 0; i < Sq; i++) {
        const visible: number[] = [];
        for (let s = 0; s < Sk; s++) {
          if (options.causal && s > i + Sk - Sq) continue;
          if (options.keyMask && options.keyMask.data[b * Sk + s] === 0) continue;
          if (options.bias && broadcastAt(options.bias, [b, h, i, s]) === -Infinity) continue;
          visible.push(s);
        }
        if (visible.length === 0) continue;
        const f = rowFactor(h, visible.length);
        const logits = visible.map((s) => {
          let dot = 0;
          for (let d = 0; d < D; d++) dot += q.data[((b * H + h) * Sq + i) * D + d]! * k.data[((b * H + h) * Sk + s) * D + d]!;
          return f * (scale * dot + (options.bias ? broadcastAt(options.bias, [b, h, i, s]) : 0));
        });
        const m = Math.max(...logits);
        const e = logits.map((l) => Math.exp(l - m));
        const z = e.reduce((x, y) => x + y, 0);
        visible.forEach((s, j) => {
          const p = e[j]! / z;
          weights.data[((b * H + h) * Sq + i) * Sk + s] = p;
          for (let d = 0; d < Dv; d++) { const o = ((b * H + h) * Sq + i) * Dv + d; output.data[o] = output.data[o]! + p * v.data[((b * H + h) * Sk + s) * Dv + d]!; }
        });
      }
  return { output, weights };
}

const perHead = (x: number | number[], h: number): number => (typeof x === "number" ? x : x[h]!);

/** softmax((scale·q·kᵀ + bias)/τ)·v. */
export function referenceTemperatureAttention(q: HostArray, k: HostArray, v: HostArray, temperature: number | number[], options: ReferenceOptions = {}) {
  return generalAttention(q, k, v, options, (h) => 1 / perHead(temperature, h));
}

/** softmax((s·log n + b)·scale·q·kᵀ)·v. */
export function referenceSsmaxAttention(q: HostArray, k: HostArray, v: HostArray, s: number | number[], b: number, options: ReferenceOptions = {}) {
  return generalAttention(q, k, v, options, (h, n) => perHead(s, h) * Math.log(n) + b);
}

/** softmax(max(1, log n / log L)·scale·q·kᵀ)·v. */
export function referenceLogNAttention(q: HostArray, k: HostArray, v: HostArray, trainLength: number, options: ReferenceOptions = {}) {
  return generalAttention(q, k, v, options, (_h, n) => Math.max(1, Math.log(n) / Math.log(trainLength)));
}

/** softmax(x/τ) along the last axis of a `[rows, cols]` array; all −∞ rows give zeros. */
export function referenceTemperatureSoftmax(x: HostArray, temperature: number): HostArray {
  const cols = x.shape[x.shape.length - 1]!;
  const out = hostArray(x.shape);
  for (let r = 0; r < x.data.length / cols; r++) {
    const row = Array.from(x.data.subarray(r * cols, (r + 1) * cols), (l) => l / temperature);
    const m = Math.max(...row);
    if (m === -Infinity) continue;
    const e = row.map((l) => Math.exp(l - m));
    const z = e.reduce((a, b) => a + b, 0);
    e.forEach((y, j) => (out.data[r * cols + j] = y / z));
  }
  return out;
}

/** σ_max of a `rows × cols` matrix by cyclic Jacobi on MᵀM (a second, independent algorithm). */
export function referenceLargestSingularValue(m: ArrayLike<number>, rows: number, cols: number): number {
  const n = cols;
  const a: number[][] = [];
  for (let i = 0; i < n; i++) {
    a.push([]);
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let r = 0; r < rows; r++) s += m[r * cols + i]! * m[r * cols + j]!;
      a[i]!.push(s);
    }
  }
  for (let sweep = 0; sweep < 100; sweep++) {
    let offNorm = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) offNorm += a[p]![q]! ** 2;
    if (offNorm < 1e-30) break;
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) {
        const apq = a[p]![q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q]![q]! - a[p]![p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let r = 0; r < n; r++) {
          const arp = a[r]![p]!;
          const arq = a[r]![q]!;
          a[r]![p] = c * arp - s * arq;
          a[r]![q] = s * arp + c * arq;
        }
        for (let r = 0; r < n; r++) {
          const apr = a[p]![r]!;
          const aqr = a[q]![r]!;
          a[p]![r] = c * apr - s * aqr;
          a[q]![r] = s * apr + c * aqr;
        }
      }
  }
  let best = 0;
  for (let i = 0; i < n; i++) best = Math.max(best, a[i]![i]!);
  return Math.sqrt(best);
}
