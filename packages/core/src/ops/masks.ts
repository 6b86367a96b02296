// Which keys a query may see, for causal and sliding-window attention.
// Queries are aligned to the END of the keys (query i sits at key position i + seqK − seqQ), the
// convention a KV cache needs: with seqQ = seqK it is the usual lower-triangular mask.
// Masks are built on the host with typed-array fills: on wasm, TF.js's broadcast comparisons that
// would build them on the device are ~20× slower than the attention products they guard.
import * as tf from "@tensorflow/tfjs";

export interface VisibilityRule {
  causal: boolean;
  /** Sliding window w: key s is visible to the query at position t iff t − w < s ≤ t. */
  window: number | null;
  /** Key position of query 0 (seqK − seqQ). */
  offset: number;
  seqK: number;
}

/** The range [k0, k1) of keys that queries [t0, t1) can see at all. */
export function visibleKeyRange(rule: VisibilityRule, t0: number, t1: number): [number, number] {
  if (!rule.causal) return [0, rule.seqK];
  const k1 = Math.min(rule.seqK, rule.offset + t1);
  const k0 = rule.window === null ? 0 : Math.max(0, rule.offset + t0 - rule.window + 1);
  return [Math.max(0, k0), Math.max(0, k1)];
}

function needsMask(rule: VisibilityRule, t0: number, t1: number, k0: number, k1: number): boolean {
  if (!rule.causal) return false;
  const needCausal = k1 - 1 > rule.offset + t0;
  const needWindow = rule.window !== null && k0 <= rule.offset + t1 - 1 - rule.window;
  return needCausal || needWindow;
}

/** Fills `[t1 − t0, k1 − k0]` row-major: `visible` where key s is visible to query row t, else `hidden`. */
function fillVisibility(rule: VisibilityRule, t0: number, t1: number, k0: number, k1: number, data: Float32Array | Uint8Array, visible: number, hidden: number): void {
  const cols = k1 - k0;
  for (let i = 0; i < t1 - t0; i++) {
    const t = rule.offset + t0 + i;
    const lo = Math.min(cols, Math.max(0, (rule.window === null ? 0 : t - rule.window + 1) - k0));
    const hi = Math.max(lo, Math.min(cols, t + 1 - k0));
    const row = i * cols;
    if (lo > 0) data.fill(hidden, row, row + lo);
    data.fill(visible, row + lo, row + hi);
    if (hi < cols) data.fill(hidden, row + hi, row + cols);
  }
}

/**
 * Boolean `[t1 − t0, k1 − k0]` visibility of keys [k0, k1) to queries [t0, t1), or null when every
 * key in the range is visible to every query in the block.
 */
export function visibilityMask(rule: VisibilityRule, t0: number, t1: number, k0: number, k1: number): tf.Tensor2D | null {
  if (!needsMask(rule, t0, t1, k0, k1)) return null;
  const data = new Uint8Array((t1 - t0) * (k1 - k0));
  fillVisibility(rule, t0, t1, k0, k1, data, 1, 0);
  return tf.tensor2d(data, [t1 - t0, k1 - k0], "bool");
}

/** Additive form of `visibilityMask`: 0 where visible, `masked` (a large negative number) elsewhere. */
export function visibilityBias(rule: VisibilityRule, t0: number, t1: number, k0: number, k1: number, masked: number): tf.Tensor2D | null {
  if (!needsMask(rule, t0, t1, k0, k1)) return null;
  const data = new Float32Array((t1 - t0) * (k1 - k0));
  fillVisibility(rule, t0, t1, k0, k1, data, 0, masked);
  return tf.tensor2d(data, [t1 - t0, k1 - k0], "float32");
}

/** The full boolean `[seqQ, seqK]` mask of a rule (for references, tests and small inputs). */
export function causalMask(seqQ: number, seqK: number, window: number | null = null): tf.Tensor2D {
  const rule: VisibilityRule = { causal: true, window, offset: seqK - seqQ, seqK };
  return visibilityMask(rule, 0, seqQ, 0, seqK) ?? tf.ones([seqQ, seqK], "bool");
}
