// Multi-head self-attention on core's scaledDotProductAttention: q, k, v projections, optional RoPE on
// q and k, causal (optionally windowed) or bidirectional, output projection. With `returnWeights` the
// layer has a second output, the attention `[b, h, s, s]` (it feeds an attention-aware MoE router).
// `callWithCache` keeps the rotated keys and values for generation and equals the full forward pass.
import * as tf from "@tensorflow/tfjs";
import { assertBoolean, assertInteger, assertNumber, applyRotary, batchMatMul, registerLayer, scaledDotProductAttention } from "@attnkit/core";
import { firstInput, firstShape, glorot, type LayerArgs, type LayerVariable } from "./common";

export interface SelfAttentionArgs extends LayerArgs {
  numHeads: number;
  keyDim: number;
  /** Default true. */
  causal?: boolean;
  /** Rotate q and k by their positions (default false). */
  rope?: boolean;
  /** Default 10000. */
  ropeBase?: number;
  /** Causal sliding window (null: none). */
  window?: number | null;
  /** Second output: the attention weights (default false). */
  returnWeights?: boolean;
  seed?: number | null;
}

/** Keys (already rotated) and values of the tokens seen so far, `[b, h, P, keyDim]`. */
export interface SelfAttentionCache {
  k: tf.Tensor;
  v: tf.Tensor;
  position: number;
}

const NAME = "SelfAttention";

export class SelfAttention extends tf.layers.Layer {
  static className = NAME;
  readonly numHeads: number;
  readonly keyDim: number;
  readonly causal: boolean;
  readonly rope: boolean;
  readonly ropeBase: number;
  readonly window: number | null;
  readonly returnWeights: boolean;
  readonly seed: number | null;
  private w: LayerVariable[] = [];

  constructor(args: SelfAttentionArgs) {
    const { numHeads, keyDim, causal, rope, ropeBase, window, returnWeights, seed, ...base } = args;
    super(base);
    assertInteger(NAME, "numHeads", numHeads, { min: 1 });
    assertInteger(NAME, "keyDim", keyDim, { min: 1 });
    this.numHeads = numHeads;
    this.keyDim = keyDim;
    this.causal = causal ?? true;
    assertBoolean(NAME, "causal", this.causal);
    this.rope = rope ?? false;
    assertBoolean(NAME, "rope", this.rope);
    this.ropeBase = ropeBase ?? 10000;
    assertNumber(NAME, "ropeBase", this.ropeBase, { min: 0, minExclusive: true });
    this.window = window ?? null;
    if (this.window !== null) assertInteger(NAME, "window", this.window, { min: 1 });
    this.returnWeights = returnWeights ?? false;
    assertBoolean(NAME, "returnWeights", this.returnWeights);
    this.seed = seed ?? null;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = firstShape(inputShape);
    const d = shape[shape.length - 1]!;
    const inner = this.numHeads * this.keyDim;
    this.w = ["query", "key", "value"].map((n, i) => this.addWeight(`${n}_kernel`, [d, inner], "float32", glorot(this.seed, i)));
    this.w.push(this.addWeight("output_kernel", [inner, d], "float32", glorot(this.seed, 3)));
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    const shape = firstShape(inputShape);
    if (!this.returnWeights) return shape;
    return [shape, [shape[0]!, this.numHeads, shape[1]!, shape[1]!]];
  }

  private heads(x: tf.Tensor, i: number): tf.Tensor {
    const [b, s] = x.shape as [number, number, number];
    return batchMatMul(x, this.w[i]!.read(), false, false).reshape([b, s, this.numHeads, this.keyDim]).transpose([0, 2, 1, 3]);
  }

  private forward(x: tf.Tensor, cache: SelfAttentionCache | null): { output: tf.Tensor; weights?: tf.Tensor; k: tf.Tensor; v: tf.Tensor } {
    const [b, s] = x.shape as [number, number, number];
    const past = cache?.position ?? 0;
    let q = this.heads(x, 0);
    let k = this.heads(x, 1);
    const vNew = this.heads(x, 2);
    if (this.rope) {
      const positions = Array.from({ length: s }, (_, i) => past + i);
      q = applyRotary(q, { positions, base: this.ropeBase });
      k = applyRotary(k, { positions, base: this.ropeBase });
    }
    const keys = cache ? tf.concat([cache.k, k], 2) : k;
    const values = cache ? tf.concat([cache.v, vNew], 2) : vNew;
    const opts = { causal: this.causal, ...(this.window !== null ? { window: this.window } : {}) };
    const r = this.returnWeights
      ? scaledDotProductAttention(q, keys, values, { ...opts, returnWeights: true })
      : { output: scaledDotProductAttention(q, keys, values, opts), weights: undefined };
    const merged = r.output.transpose([0, 2, 1, 3]).reshape([b, s, this.numHeads * this.keyDim]);
    const output = batchMatMul(merged, this.w[3]!.read(), false, false);
    return { output, ...(r.weights ? { weights: r.weights } : {}), k: keys, v: values };
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor | tf.Tensor[] {
    return tf.tidy(() => {
      const r = this.forward(firstInput(inputs), null);
      return this.returnWeights ? [r.output, r.weights!] : r.output;
    });
  }

  /**
   * Runs new tokens `x: [b, n, d]` after the cached ones (null: none) and returns their output and the
   * grown cache. The caller disposes the old cache.
   */
  callWithCache(x: tf.Tensor, cache: SelfAttentionCache | null = null): { output: tf.Tensor; cache: SelfAttentionCache } {
    if (!this.built) this.build(x.shape);
    const r = tf.tidy(() => {
      const f = this.forward(x, cache);
      return [f.output, f.k, f.v];
    });
    return { output: r[0]!, cache: { k: r[1]!, v: r[2]!, position: (cache?.position ?? 0) + x.shape[1]! } };
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      numHeads: this.numHeads,
      keyDim: this.keyDim,
      causal: this.causal,
      rope: this.rope,
      ropeBase: this.ropeBase,
      window: this.window,
      returnWeights: this.returnWeights,
      seed: this.seed,
    };
  }
}
registerLayer(SelfAttention);
