// Capacity-limited dispatch of tokens to experts, computed on the device with fixed shapes (no host
// reads, so it runs inside a synchronous layer call on WebGPU too).
//
// Priority is (slot, token): every token's first choice is served before any second choice, and within
// a slot earlier tokens first (GShard / Switch). An expert takes at most `capacity` assignments; the
// rest are dropped: they add nothing, and the caller's residual carries those tokens through.
import * as tf from "@tensorflow/tfjs";
import { withoutGradient } from "@attnkit/core";
import { oneHotMask } from "./select";

export interface DispatchPlan {
  /** int32 `[experts, capacity]`: the token in each expert slot (0 in empty slots, whose weight is 0). */
  slotToken: tf.Tensor;
  /** int32 `[tokens, topK]`: row of the assignment in the flattened `[experts·capacity + 1]` expert outputs; the last row (zeros) for dropped or empty assignments. */
  outputRow: tf.Tensor;
  /** int32 `[experts·capacity]`: the assignment (token·topK + slot) served by each expert slot; tokens·topK for empty slots. */
  slotAssignment: tf.Tensor;
}

/**
 * Plans the dispatch of `indices: [tokens, topK]` (int32, −1 = no expert) to `experts` queues of
 * `capacity` slots. Not differentiable (routing decisions are data). Call inside a tidy.
 */
export function planDispatch(indices: tf.Tensor, experts: number, capacity: number): DispatchPlan {
  const [tokens, topK] = indices.shape as [number, number];
  const packed = withoutGradient((idx) => {
    const slots = tf.unstack(idx, 1).map((s) => oneHotMask(s, experts)); // topK × [N, E]
    // Priority key of (token, expert): −(slot·N + token) when assigned, −k·N (below every assigned key)
    // otherwise. Finite on purpose: wasm's topk comparator breaks on ties of −∞ (−∞ − −∞ is NaN).
    const unassigned = -topK * tokens;
    const tokenPos = tf.range(0, tokens, 1, "float32").reshape([tokens, 1]);
    let key = tf.fill([tokens, experts], unassigned);
    const rows: tf.Tensor[] = [];
    let before = tf.zeros([1, experts]);
    slots.forEach((hot, j) => {
      key = tf.where(tf.cast(hot, "bool"), tokenPos.add(j * tokens).neg().tile([1, experts]), key);
      // Queue position of each assignment: assignments of earlier slots, then earlier tokens of this slot.
      const pos = tf.cumsum(hot, 0, true).add(before).mul(hot).sum(-1);
      const expert = tf.argMax(hot, -1).cast("float32");
      const assigned = hot.sum(-1);
      const kept = tf.logicalAnd(tf.greater(assigned, 0), tf.less(pos, capacity));
      rows.push(tf.where(kept, expert.mul(capacity).add(pos), tf.scalar(experts * capacity)));
      before = before.add(hot.sum(0, true));
    });
    const top = tf.topk(key.transpose(), Math.min(capacity, tokens), true);
    // Float arithmetic throughout (exact for these small integers): wasm's Select mis-broadcasts int32 scalars.
    const filled = tf.greater(top.values, unassigned);
    const tokenOf = top.indices.cast("float32");
    let slotToken = tf.where(filled, tokenOf, tf.scalar(0));
    // key = −(slot·N + token) gives back the slot of each served assignment.
    const slot = tf.floor(top.values.neg().div(tokens));
    let slotAssignment = tf.where(filled, tokenOf.mul(topK).add(slot), tf.scalar(tokens * topK));
    if (capacity > tokens) {
      slotToken = slotToken.pad([[0, 0], [0, capacity - tokens]]);
      slotAssignment = slotAssignment.pad([[0, 0], [0, capacity - tokens]], tokens * topK);
    }
    return tf.concat([slotToken.reshape([-1]), tf.stack(rows, 1).reshape([-1]), slotAssignment.reshape([-1])]).cast("int32");
  }, indices);
  const slots = experts * capacity;
  const slotToken = packed.slice(0, slots).reshape([experts, capacity]);
  const outputRow = packed.slice(slots, tokens * topK).reshape([tokens, topK]);
  const slotAssignment = packed.slice(slots + tokens * topK, slots);
  return { slotToken, outputRow, slotAssignment };
}

/** Expert queue length: ceil(factor · tokens · topK / experts), at least 1 and at most `tokens`; no factor → `tokens` (never drops). */
export function expertCapacity(tokens: number, experts: number, topK: number, factor: number | null): number {
  if (factor === null) return Math.max(1, tokens);
  return Math.max(1, Math.min(tokens, Math.ceil((factor * tokens * topK) / experts)));
}
