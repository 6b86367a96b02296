// STILL hybrid attention layer (official `modeling_still.py`): q, k, v projections; NP-Map feature maps
// for q and k (per-head Householder reflection, then a per-head linear map; the two start identical, as
// the code deep-copies them, and train separately); the output gate g = sigmoid(W_g x) on the linear
// numerator; stillAttention; output projection. RoPE is left to the caller (the official layer applies
// it to q and k before everything else).
import * as tf from "@tensorflow/tfjs";
import { assertBoolean, assertInteger, assertOneOf, batchMatMul, checkLayerArgs, lastDim, registerLayer } from "@attnkit/core";
import { npMap } from "../ops/np-map";
import { checkLayerInput, mergeHeads, projectHeads, type LayerArgs, type LayerVariable } from "../ops/projection";
import { saliencyOf, selectDetached, stillCore, type SaliencyVariant } from "../ops/still";

export interface StillHybridAttentionArgs extends LayerArgs {
  numHeads: number;
  keyDim: number;
  /** Default keyDim. */
  valueDim?: number;
  /** NP-Map width F per half (features 2F); default keyDim. */
  featureDim?: number;
  /** Default 64 (official). */
  chunkSize?: number;
  /** Salient tokens per chunk; default max(1, floor(chunkSize / 16)) (official topk_ratio 1/16). */
  topK?: number;
  /** Default 'paper'. */
  saliency?: SaliencyVariant;
  /** Default false. */
  phantomFirstChunk?: boolean;
  /** Output size (default dModel). */
  outputDim?: number | null;
}

/** Generation cache: everything a later query needs from the tokens seen so far. */
export interface StillCache {
  /** Keys, values and key features of past tokens `[b, h, P, *]`, and their saliency `[b, h, P]`. */
  k: tf.Tensor;
  v: tf.Tensor;
  fk: tf.Tensor;
  saliency: tf.Tensor;
  position: number;
}

const NAME = "StillHybridAttention";
const KEYS = ["numHeads", "keyDim", "valueDim", "featureDim", "chunkSize", "topK", "saliency", "phantomFirstChunk", "outputDim"];

export class StillHybridAttention extends tf.layers.Layer {
  static className = NAME;
  readonly numHeads: number;
  readonly keyDim: number;
  readonly valueDim: number;
  readonly featureDim: number;
  readonly chunkSize: number;
  readonly topK: number;
  readonly saliency: SaliencyVariant;
  readonly phantomFirstChunk: boolean;
  readonly outputDim: number | null;
  private w: Record<string, LayerVariable> = {};
  private dModel = 0;

  constructor(args: StillHybridAttentionArgs) {
    checkLayerArgs(NAME, args, KEYS);
    super(args);
    assertInteger(NAME, "numHeads", args.numHeads, { min: 1 });
    assertInteger(NAME, "keyDim", args.keyDim, { min: 1 });
    this.numHeads = args.numHeads;
    this.keyDim = args.keyDim;
    this.valueDim = args.valueDim ?? args.keyDim;
    assertInteger(NAME, "valueDim", this.valueDim, { min: 1 });
    this.featureDim = args.featureDim ?? args.keyDim;
    assertInteger(NAME, "featureDim", this.featureDim, { min: 1 });
    this.chunkSize = args.chunkSize ?? 64;
    assertInteger(NAME, "chunkSize", this.chunkSize, { min: 1 });
    this.topK = args.topK ?? Math.max(1, Math.floor(this.chunkSize / 16));
    assertInteger(NAME, "topK", this.topK, { min: 0, max: this.chunkSize });
    this.saliency = args.saliency ?? "paper";
    assertOneOf(NAME, "saliency", this.saliency, ["paper", "code"] as const);
    this.phantomFirstChunk = args.phantomFirstChunk ?? false;
    assertBoolean(NAME, "phantomFirstChunk", this.phantomFirstChunk);
    this.outputDim = args.outputDim ?? null;
    if (this.outputDim !== null) assertInteger(NAME, "outputDim", this.outputDim, { min: 1 });
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    this.dModel = lastDim(NAME, inputShape);
    const { numHeads: h, keyDim: dk, valueDim: dv, featureDim: f } = this;
    const d = this.dModel;
    const glorot = () => tf.initializers.glorotUniform({});
    this.w.q = this.addWeight("query_kernel", [d, h * dk], "float32", glorot());
    this.w.k = this.addWeight("key_kernel", [d, h * dk], "float32", glorot());
    this.w.v = this.addWeight("value_kernel", [d, h * dv], "float32", glorot());
    // Feature maps start identical (the official code deep-copies the q map for k).
    this.w.fq = this.addWeight("q_feature_kernel", [h, dk, f], "float32", tf.initializers.zeros());
    this.w.fk = this.addWeight("k_feature_kernel", [h, dk, f], "float32", tf.initializers.zeros());
    this.w.hq = this.addWeight("q_householder", [h, dk], "float32", tf.initializers.zeros());
    this.w.hk = this.addWeight("k_householder", [h, dk], "float32", tf.initializers.zeros());
    this.w.g = this.addWeight("gate_kernel", [d, h * dv], "float32", glorot());
    this.w.o = this.addWeight("output_kernel", [h * dv, this.outputDim ?? d], "float32", glorot());
    tf.tidy(() => {
      const eye = tf.eye(dk, f);
      const map = tf.tile(eye.expandDims(0), [h, 1, 1]).add(tf.randomNormal([h, dk, f], 0, 0.02, "float32", 7));
      this.w.fq!.write(map);
      this.w.fk!.write(map.clone());
      const hh = tf.randomNormal([h, dk], 0, 1, "float32", 11);
      this.w.hq!.write(hh);
      this.w.hk!.write(hh.clone());
    });
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [...shape.slice(0, -1), this.outputDim ?? shape[shape.length - 1]!];
  }

  /** Projections of new tokens x [b, n, d]: q, k, v, fq, fk, gate, all [b, h, n, *]. */
  private project(x: tf.Tensor) {
    checkLayerInput(NAME, x, this.dModel);
    const [batch, seq] = x.shape as [number, number, number];
    const h = this.numHeads;
    const flat = x.reshape([batch * seq, this.dModel]);
    const q = projectHeads(flat, this.w.q!, batch, seq, h, this.keyDim);
    const k = projectHeads(flat, this.w.k!, batch, seq, h, this.keyDim);
    const v = projectHeads(flat, this.w.v!, batch, seq, h, this.valueDim);
    const fq = npMap(q, { weight: this.w.fq!.read(), householder: this.w.hq!.read() });
    const fk = npMap(k, { weight: this.w.fk!.read(), householder: this.w.hk!.read() });
    const gate = tf.sigmoid(projectHeads(flat, this.w.g!, batch, seq, h, this.valueDim));
    return { q, k, v, fq, fk, gate, batch, seq };
  }

  private readOut(o: tf.Tensor, batch: number, seq: number): tf.Tensor {
    return batchMatMul(mergeHeads(o), this.w.o!.read()).reshape([batch, seq, -1]);
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => this.run(Array.isArray(inputs) ? inputs[0]! : inputs, null, false).output);
  }

  /**
   * Forward pass continuing from `cache` (null: empty). Pieces or single tokens give the same outputs as
   * one full call. The cache keeps every past key (the salient set of a chunk is only known once the
   * chunk is complete, and it is exact); the caller disposes the old cache.
   */
  callWithCache(x: tf.Tensor, cache: StillCache | null = null): { output: tf.Tensor; cache: StillCache } {
    if (!this.built) this.build(x.shape);
    const r = this.run(x, cache, true);
    return { output: r.output, cache: r.cache! };
  }

  private run(x: tf.Tensor, cache: StillCache | null, keepCache: boolean): { output: tf.Tensor; cache: StillCache | null } {
    const r = tf.tidy(() => {
      const p = this.project(x);
      const past = cache?.position ?? 0;
      const cat = (old: tf.Tensor | undefined, y: tf.Tensor) => (old ? tf.concat([old, y], 2) : y);
      const k = cat(cache?.k, p.k);
      const v = cat(cache?.v, p.v);
      const fk = cat(cache?.fk, p.fk);
      // Saliency of the new tokens (rows of earlier tokens are padding and dropped).
      const qPad = past > 0 ? tf.concat([tf.zeros([p.batch, this.numHeads, past, this.keyDim]), p.q], 2) : p.q;
      const scale = this.keyDim ** -0.5;
      const salNew = saliencyOf(qPad, k, this.chunkSize, this.saliency, scale, 1e-8).slice([0, 0, past], [-1, -1, p.seq]);
      const sal = cache ? tf.concat([cache.saliency, salNew], 2) : salNew;
      const salient = selectDetached(this.chunkSize, this.topK)(sal);
      const o = stillCore(p.q, k, v, p.fq, fk, salient, { chunkSize: this.chunkSize, scale, eps: 1e-6, phantom: this.phantomFirstChunk, gate: p.gate, offset: past });
      const out = this.readOut(o, p.batch, p.seq);
      return keepCache ? [out, k, v, fk, sal] : [out];
    });
    const [output, k, v, fk, saliency] = r as tf.Tensor[];
    const position = (cache?.position ?? 0) + x.shape[1]!;
    return { output: output!, cache: keepCache ? { k: k!, v: v!, fk: fk!, saliency: saliency!, position } : null };
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      numHeads: this.numHeads,
      keyDim: this.keyDim,
      valueDim: this.valueDim,
      featureDim: this.featureDim,
      chunkSize: this.chunkSize,
      topK: this.topK,
      saliency: this.saliency,
      phantomFirstChunk: this.phantomFirstChunk,
      outputDim: this.outputDim,
    };
  }
}

registerLayer(StillHybridAttention);
