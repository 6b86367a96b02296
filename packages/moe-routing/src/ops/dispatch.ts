// Capacity-limited dispatch of tokens to experts, computed on the device with fixed shapes (no host
// reads, so it runs inside a synchronous layer call on WebGPU too).
//
// Priority is (slot, token): every token's first choice is served before any second choice, and within
// a slot earlier tokens first (GShard / Switch). An expert takes at most `capacity` assignments; the
// rest are dropped: they add nothing, and the caller's residual carries those tokens through.
import * as tf from "@tensorflow/tfjs";
import { oneHotMask, withoutGradient } from "./select";

export interface DispatchPlan {
  /** int32 `[experts, capacity]`: the token in each expert slot (0 in empty slots, whose weight is 0). */
  slotToken: tf.Tensor;
  /** int32 `[tokens, topK]`: row of the assignment in the flattened `[experts·capacity + 1]` expert outputs; the last row (zeros) for dropped or empty assignments. */
  outputRow: tf.Tensor;
}

/**
 * Plans the dispatch of `indices: [tokens, topK]` (int32, −1 = no expert) to `experts` queues of
 * `capacity` slots. Not differentiable (routing decisions are data). Call inside a tidy.
 */
export function planDispatch(indices: tf.Tensor, experts: number, capacity: number): DispatchPlan {
  const [tokens, topK] = indices.shape as [number, number];
  const packed = withoutGradient((idx) => {
    const slots = tf.unstack(idx, 1).map((s) => oneHotMask(s, experts)); // topK × [N, E]
    // Priority key of (token, expert): −(slot·N + token) when assigned, −∞ otherwise.
    const tokenPos = tf.range(0, tokens, 1, "float32").reshape([tokens, 1]);
    let key = tf.fill([tokens, experts], -Infinity);
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
    let slotToken = tf.where(tf.greater(top.values, -Infinity), top.indices, tf.scalar(0, "int32"));
    if (capacity > tokens) slotToken = slotToken.pad([[0, 0], [0, capacity - tokens]]);
    return tf.concat([slotToken.reshape([-1]), tf.stack(rows, 1).reshape([-1]).cast("int32")]);
  }, indices);
  const slotToken = packed.slice(0, experts * capacity).reshape([experts, capacity]);
  const outputRow = packed.slice(experts * capacity, tokens * topK).reshape([tokens, topK]);
  return { slotToken, outputRow };
}

/** Expert queue length: ceil(factor · tokens · topK / experts), at least 1 and at most `tokens`; no factor → `tokens` (never drops). */
export function expertCapacity(tokens: number, experts: number, topK: number, factor: number | null): number {
  if (factor === null) return Math.max(1, tokens);
  return Math.max(1, Math.min(tokens, Math.ceil((factor * tokens * topK) / experts)));
}
