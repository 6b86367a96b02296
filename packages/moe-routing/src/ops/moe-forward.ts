// Expert MLPs and their weighted combination: y_t = Σ_e combine[t,e]·(act(x_t W1_e + b1_e) W2_e + b2_e).
import * as tf from "@tensorflow/tfjs";
import { ACTIVATIONS, ShapeError, activate, assertFloat, assertInteger, assertKnownOptions, assertOneOf, assertRank, assertTensor, batchMatMul, prefersMatrixSlices, shapeString, withoutGradient, type Activation } from "@attnkit/core";
import { planDispatch } from "./dispatch";
import { expertMlp, type ExpertList } from "./experts";
import { fusedMoe } from "./fused-moe";
import { oneHotMask } from "./select";

export type { Activation };

export interface ExpertWeights {
  /** `[E, d, f]` */
  w1: tf.Tensor;
  /** `[E, f, d]` */
  w2: tf.Tensor;
  /** `[E, f]` */
  b1?: tf.Tensor;
  /** `[E, d]` */
  b2?: tf.Tensor;
}

export interface MoeForwardOptions {
  /** Default `'relu'`. `'gelu-tanh'` is the tanh approximation, `'gelu'` the exact (erf) form. */
  activation?: Activation;
  /**
   * int32 `[tokens, topK]` chosen experts (a gate's `indices`). With it, each expert runs only on its
   * tokens (sparse dispatch); without it, every expert runs on every token (exact for any combine).
   */
  indices?: tf.Tensor;
  /** Expert queue length for sparse dispatch (default: tokens, which never drops); overflow assignments are dropped. */
  capacity?: number;
  /** Return `{ output, kept }` with `kept: [tokens, topK]` (1 = served, 0 = dropped or empty); needs `indices`. */
  returnKept?: boolean;
}

const NAME = "moeForward";

/** Runs every expert on `xs: [E, n, d]`: `[E, n, d]`. */
export function runExperts(xs: tf.Tensor, w: ExpertWeights, activation: Activation): tf.Tensor {
  if (prefersMatrixSlices()) return runExpertsSliced(xs, w, activation);
  let h = batchMatMul(xs, w.w1);
  if (w.b1) h = h.add(w.b1.expandDims(1));
  let o = batchMatMul(activate(h, activation), w.w2);
  if (w.b2) o = o.add(w.b2.expandDims(1));
  return o;
}

// wasm: one 2-D product per expert with a hand-written backward (see experts.ts).
function runExpertsSliced(xs: tf.Tensor, w: ExpertWeights, activation: Activation): tf.Tensor {
  return expertMlp(xs, expertList(w), activation);
}

function checkWeights(x: tf.Tensor, w: ExpertWeights): number {
  if (w === null || typeof w !== "object") throw new ShapeError(`${NAME}: experts must be an object { w1, w2, b1?, b2? }`);
  assertRank(NAME, "experts.w1", w.w1, 3);
  assertRank(NAME, "experts.w2", w.w2, 3);
  assertFloat(NAME, "experts.w1", w.w1);
  assertFloat(NAME, "experts.w2", w.w2);
  const d = x.shape[1]!;
  const [e, d1, f] = w.w1.shape as [number, number, number];
  if (d1 !== d) throw new ShapeError(`${NAME}: experts.w1 must have shape [E, ${d}, f] to match x ${shapeString(x.shape)}, got ${shapeString(w.w1.shape)}`);
  const want = (name: string, t: tf.Tensor | undefined, shape: number[]) => {
    if (t === undefined) return;
    assertTensor(NAME, name, t);
    if (t.rank !== shape.length || t.shape.some((s, i) => s !== shape[i])) {
      throw new ShapeError(`${NAME}: ${name} must have shape ${shapeString(shape)}, got ${shapeString(t.shape)}`);
    }
  };
  want("experts.w2", w.w2, [e, f, d]);
  want("experts.b1", w.b1, [e, f]);
  want("experts.b2", w.b2, [e, d]);
  return e;
}

/**
 * `x: [tokens, d]`, `combine: [tokens, E]` → `[tokens, d]`. Gradients reach x, the experts and combine
 * (and through combine the router). With `indices`, tokens are gathered per expert, each expert runs
 * on its own queue, and results are gathered back: the cost is that of the active experts only.
 */
export function moeForward(x: tf.Tensor, experts: ExpertWeights, combine: tf.Tensor, options: MoeForwardOptions = {}): tf.Tensor | { output: tf.Tensor; kept: tf.Tensor } {
  assertKnownOptions(NAME, options, ["activation", "indices", "capacity", "returnKept"]);
  assertRank(NAME, "x", x, 2);
  assertFloat(NAME, "x", x);
  const e = checkWeights(x, experts);
  const tokens = x.shape[0]!;
  assertRank(NAME, "combine", combine, 2);
  if (combine.shape[0] !== tokens || combine.shape[1] !== e) {
    throw new ShapeError(`${NAME}: combine must have shape [${tokens}, ${e}], got ${shapeString(combine.shape)}`);
  }
  const activation = options.activation ?? "relu";
  assertOneOf(NAME, "activation", activation, ACTIVATIONS);
  const { indices } = options;
  const returnKept = options.returnKept ?? false;
  if (indices === undefined) {
    if (options.capacity !== undefined || returnKept) throw new ShapeError(`${NAME}: capacity and returnKept need indices`);
    return tf.tidy(() => {
      const all = runExperts(tf.broadcastTo(x, [e, tokens, x.shape[1]!]), experts, activation); // [E, T, d]
      return all.mul(combine.transpose().expandDims(2)).sum(0);
    });
  }
  assertRank(NAME, "indices", indices, 2);
  if (indices.dtype !== "int32" || indices.shape[0] !== tokens) {
    throw new ShapeError(`${NAME}: indices must be an int32 tensor of shape [${tokens}, topK], got a ${indices.dtype} tensor of shape ${shapeString(indices.shape)}`);
  }
  const capacity = options.capacity ?? tokens;
  assertInteger(NAME, "capacity", capacity, { min: 1 });
  return tf.tidy(() => {
    const { output, kept } = sparseMoe(x, expertList(experts), combine, indices, capacity, activation);
    return returnKept ? { output, kept } : output;
  });
}

/** Sparse dispatch path (inputs checked): per-expert weights, capacity-limited queues. Call inside a tidy. */
export function sparseMoe(
  x: tf.Tensor,
  experts: ExpertList,
  combine: tf.Tensor,
  indices: tf.Tensor,
  capacity: number,
  activation: Activation,
): { output: tf.Tensor; kept: tf.Tensor } {
  const e = combine.shape[1]!;
  const plan = planDispatch(indices, e, capacity);
  // Weight of each slot, taken from combine so that gradients reach the router.
  const hot = withoutGradient((idx) => oneHotMask(idx, e), indices); // [T, k, E]
  const weights = hot.mul(combine.expandDims(1)).sum(-1); // [T, k]
  const output = fusedMoe(x, weights, plan, experts, activation);
  // TF.js has no gradient for comparisons: keep this one behind a wall too.
  const kept = withoutGradient((r) => tf.minimum(tf.abs(r.cast("float32").sub(e * capacity)), 1), plan.outputRow);
  return { output, kept };
}

/** `[E, ...]` expert weights as per-expert lists (biases default to zeros). */
export function expertList(w: ExpertWeights): ExpertList {
  const [e, d, f] = w.w1.shape as [number, number, number];
  const list = (t: tf.Tensor) => (e === 1 ? [t.squeeze([0])] : tf.unstack(t));
  return { w1: list(w.w1), b1: list(w.b1 ?? tf.zeros([e, f])), w2: list(w.w2), b2: list(w.b2 ?? tf.zeros([e, d])) };
}
