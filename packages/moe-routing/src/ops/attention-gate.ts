// Attention-Aware (S)MoE gate. RECONSTRUCTION (no paper body or code was available):
//   A = mean_h(attention of the layer feeding this MoE);  p~ = A·softmax(x W_g);
//   indices = topk(p~);  combine = p~[indices] renormalised.  With A = I this is the plain top-k gate.
import * as tf from "@tensorflow/tfjs";
import { ShapeError, assertBoolean, assertFloat, assertInteger, assertKnownOptions, assertOneOf, assertTensor, batchMatMul, shapeString, stopGradient } from "@attnkit/core";
import { checkGateInputs, routerLogits, type GateBase } from "./gate-inputs";
import { checkGraphOptions, graphGate, mixByMatrix, type GraphGateResult, type GraphOptions, type MixFn } from "./graph-gate";

export type HeadReduce = "mean" | "single";

export interface AttentionAwareGateOptions extends GateBase, GraphOptions {
  /** `'mean'` (default) averages the heads; `'single'` uses head `head` only (the alternative reading). */
  headReduce?: HeadReduce;
  /** Head used by `headReduce: 'single'` (default 0). */
  head?: number;
  /** Stop gradients into the attention matrix (default false: the router trains the attention too). */
  detachAttention?: boolean;
}

const NAME = "attentionAwareGate";

/**
 * The Attention-Aware gate: routes token i by the expert distribution of the tokens it attends to.
 * `x: [tokens, d]` with `attention: [heads, tokens, tokens]` or `[tokens, tokens]`; or `x: [batch,
 * tokens, d]` with `attention: [batch, heads, tokens, tokens]` or `[batch, tokens, tokens]`. Rows of
 * the attention should be distributions; a zero row (fully masked query) gives a zero combine row.
 */
export function attentionAwareGate(x: tf.Tensor, wGate: tf.Tensor, attention: tf.Tensor, options: AttentionAwareGateOptions): GraphGateResult {
  assertKnownOptions(NAME, options, ["topK", "bias", "renormalize", "headReduce", "head", "detachAttention", "weightsFrom", "mixing"]);
  const dims = checkGateInputs(NAME, x, wGate, options);
  assertTensor(NAME, "attention", attention);
  assertFloat(NAME, "attention", attention);
  const batch = x.rank === 3 ? [x.shape[0]!] : [];
  const t = dims.tokens;
  const fits = (s: number[]) => s.length === attention.rank && s.every((d, i) => d < 0 || d === attention.shape[i]);
  const withHeads = fits([...batch, -1, t, t]);
  if (!withHeads && !fits([...batch, t, t])) {
    const want = x.rank === 3 ? `[${batch[0]}, heads, ${t}, ${t}] or [${batch[0]}, ${t}, ${t}]` : `[heads, ${t}, ${t}] or [${t}, ${t}]`;
    throw new ShapeError(`${NAME}: attention must have shape ${want} to match x ${shapeString(x.shape)}, got ${shapeString(attention.shape)}`);
  }
  const headReduce = options.headReduce ?? "mean";
  assertOneOf(NAME, "headReduce", headReduce, ["mean", "single"] as const);
  const heads = withHeads ? attention.shape[attention.rank - 3]! : 1;
  const head = options.head ?? 0;
  assertInteger(NAME, "head", head, { min: 0, max: heads - 1 });
  const detach = options.detachAttention ?? false;
  assertBoolean(NAME, "detachAttention", detach);
  const graph = checkGraphOptions(NAME, options);
  return tf.tidy(() => {
    const a = detach ? stopGradient(attention) : attention;
    return graphGate(routerLogits(x, wGate, options.bias), attentionMix(a, withHeads, headReduce, head), dims.topK, dims.renormalize, graph);
  });
}

/**
 * v ↦ A·v for `A: [..., (heads,) T, T]` reduced over heads. The mean over heads is taken after the
 * product, as one 2-D product per batch entry ([heads·T, T]·[T, E]): a reduction over the heads axis of
 * the [heads, T, T] matrix itself is several times slower on wasm.
 */
export function attentionMix(a: tf.Tensor, withHeads: boolean, headReduce: HeadReduce, head: number): MixFn {
  if (!withHeads) return mixByMatrix(a);
  const axis = a.rank - 3;
  if (headReduce === "single") {
    const begin = a.shape.map((_, i) => (i === axis ? head : 0));
    const size = a.shape.map((d, i) => (i === axis ? 1 : d));
    return mixByMatrix(a.slice(begin, size).squeeze([axis]));
  }
  const [h, t] = a.shape.slice(axis) as [number, number];
  const lead = a.shape.slice(0, axis);
  const flat = a.reshape([...lead, h * t, t]);
  return (v) => {
    const e = v.shape[v.rank - 1]!;
    return batchMatMul(flat, v).reshape([...lead, h, t, e]).mean(axis);
  };
}
