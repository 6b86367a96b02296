// Which keys a query may see, for causal and sliding-window attention.
// Queries are aligned to the END of the keys (query i sits at key position i + seqK − seqQ), the
// convention a KV cache needs: with seqQ = seqK it is the usual lower-triangular mask.
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

/**
 * Boolean `[t1 − t0, k1 − k0]` visibility of keys [k0, k1) to queries [t0, t1), or null when every
 * key in the range is visible to every query in the block.
 */
export function visibilityMask(rule: VisibilityRule, t0: number, t1: number, k0: number, k1: number): tf.Tensor2D | null {
  if (!rule.causal) return null;
  const lastKey = k1 - 1;
  const needCausal = lastKey > rule.offset + t0;
  const needWindow = rule.window !== null && k0 <= rule.offset + t1 - 1 - rule.window;
  if (!needCausal && !needWindow) return null;
  return tf.tidy(() => {
    const rows = tf.range(rule.offset + t0, rule.offset + t1, 1, "int32").reshape([-1, 1]);
    const cols = tf.range(k0, k1, 1, "int32").reshape([1, -1]);
    let keep = tf.lessEqual(cols, rows);
    if (rule.window !== null) keep = tf.logicalAnd(keep, tf.greater(cols, tf.sub(rows, rule.window)));
    return keep as tf.Tensor2D;
  });
}

/** The full boolean `[seqQ, seqK]` mask of a rule (for references, tests and small inputs). */
export function causalMask(seqQ: number, seqK: number, window: number | null = null): tf.Tensor2D {
  const rule: VisibilityRule = { causal: true, window, offset: seqK - seqQ, seqK };
  return tf.tidy(() => visibilityMask(rule, 0, seqQ, 0, seqK) ?? tf.ones([seqQ, seqK], "bool"));
}
