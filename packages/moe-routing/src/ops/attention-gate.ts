// Attention-Aware (S)MoE gate. RECONSTRUCTION (no paper body or code was available):
//   A = mean_h(attention of the layer feeding this MoE);  p~ = A·softmax(x W_g);
//   indices = topk(p~);  combine = p~[indices] renormalised.  With A = I this is the plain top-k gate.
import * as tf from "@tensorflow/tfjs";
import { ShapeError, assertBoolean, assertFloat, assertInteger, assertKnownOptions, assertOneOf, assertTensor, shapeString } from "@attnkit/core";
import { checkGateInputs, routerLogits, type GateBase } from "./gate-inputs";
import { checkGraphOptions, graphGate, type GraphGateResult, type GraphOptions } from "./graph-gate";
import { withoutGradient } from "./select";

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
    const a = detach ? withoutGradient((v) => v.clone(), attention) : attention;
    const mix = reduceHeads(a, withHeads, headReduce, head);
    return graphGate(routerLogits(x, wGate, options.bias), mix, dims.topK, dims.renormalize, graph);
  });
}

/** `[..., (heads,) T, T]` → `[..., T, T]`. */
export function reduceHeads(a: tf.Tensor, withHeads: boolean, headReduce: HeadReduce, head: number): tf.Tensor {
  if (!withHeads) return a;
  const axis = a.rank - 3;
  if (headReduce === "mean") return a.mean(axis);
  const begin = a.shape.map((_, i) => (i === axis ? head : 0));
  const size = a.shape.map((d, i) => (i === axis ? 1 : d));
  return a.slice(begin, size).squeeze([axis]);
}
