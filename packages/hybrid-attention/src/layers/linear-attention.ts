// Multi-head linear attention layer (Katharopoulos et al.; fla LinearAttention without its feature-map
// MLP): q, k, v projections → linearAttention → output projection. Input [batch, seq, dModel].
// `callWithCache` carries the recurrent state for generation and equals the full forward pass.
import * as tf from "@tensorflow/tfjs";
import { assertBoolean, assertInteger, assertOneOf, batchMatMul, checkLayerArgs, lastDim, registerLayer } from "@attnkit/core";
import { linearAttention, type FeatureMap } from "../ops/linear-attention";
import { checkLayerInput, mergeHeads, projectHeads, type LayerArgs, type LayerVariable, type OutputWithCache, type RecurrentCache } from "../ops/projection";
import type { LinearMode, OutputWithState } from "../ops/state";

export interface LinearAttentionArgs extends LayerArgs {
  numHeads: number;
  keyDim: number;
  /** Default keyDim. */
  valueDim?: number;
  /** Output size (default dModel). */
  outputDim?: number | null;
  /** Default 'elu1'. */
  featureMap?: FeatureMap;
  /** Default true. */
  normalize?: boolean;
  /** Default 'chunk'. */
  mode?: LinearMode;
  /** Default 64. */
  chunkSize?: number;
}

const NAME = "LinearAttention";
const KEYS = ["numHeads", "keyDim", "valueDim", "outputDim", "featureMap", "normalize", "mode", "chunkSize"];

export class LinearAttention extends tf.layers.Layer {
  static className = NAME;
  readonly numHeads: number;
  readonly keyDim: number;
  readonly valueDim: number;
  readonly outputDim: number | null;
  readonly featureMap: FeatureMap;
  readonly normalize: boolean;
  readonly mode: LinearMode;
  readonly chunkSize: number;
  private kernels: LayerVariable[] = [];
  private dModel = 0;

  constructor(args: LinearAttentionArgs) {
    checkLayerArgs(NAME, args, KEYS);
    super(args);
    assertInteger(NAME, "numHeads", args.numHeads, { min: 1 });
    assertInteger(NAME, "keyDim", args.keyDim, { min: 1 });
    if (args.valueDim !== undefined) assertInteger(NAME, "valueDim", args.valueDim, { min: 1 });
    if (args.outputDim !== undefined && args.outputDim !== null) assertInteger(NAME, "outputDim", args.outputDim, { min: 1 });
    this.featureMap = args.featureMap ?? "elu1";
    assertOneOf(NAME, "featureMap", this.featureMap, ["elu1", "relu", "identity"] as const);
    this.normalize = args.normalize ?? true;
    assertBoolean(NAME, "normalize", this.normalize);
    this.mode = args.mode ?? "chunk";
    assertOneOf(NAME, "mode", this.mode, ["parallel", "recurrent", "chunk"] as const);
    this.chunkSize = args.chunkSize ?? 64;
    assertInteger(NAME, "chunkSize", this.chunkSize, { min: 1 });
    this.numHeads = args.numHeads;
    this.keyDim = args.keyDim;
    this.valueDim = args.valueDim ?? args.keyDim;
    this.outputDim = args.outputDim ?? null;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    this.dModel = lastDim(NAME, inputShape);
    const h = this.numHeads;
    const sizes: [string, number, number][] = [
      ["query", this.dModel, h * this.keyDim],
      ["key", this.dModel, h * this.keyDim],
      ["value", this.dModel, h * this.valueDim],
      ["output", h * this.valueDim, this.outputDim ?? this.dModel],
    ];
    this.kernels = sizes.map(([name, rows, cols]) => this.addWeight(`${name}_kernel`, [rows, cols], "float32", tf.initializers.glorotUniform({})));
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [...shape.slice(0, -1), this.outputDim ?? shape[shape.length - 1]!];
  }

  private forward(x: tf.Tensor, cache: RecurrentCache | null, withState: boolean): OutputWithState | tf.Tensor {
    checkLayerInput(NAME, x, this.dModel);
    const [batch, seq] = x.shape as [number, number, number];
    const flat = x.reshape([batch * seq, this.dModel]);
    const q = projectHeads(flat, this.kernels[0]!, batch, seq, this.numHeads, this.keyDim);
    const k = projectHeads(flat, this.kernels[1]!, batch, seq, this.numHeads, this.keyDim);
    const v = projectHeads(flat, this.kernels[2]!, batch, seq, this.numHeads, this.valueDim);
    const opts = { featureMap: this.featureMap, normalize: this.normalize, chunkSize: this.chunkSize, mode: seq === 1 ? ("recurrent" as const) : this.mode, initialState: cache?.state ?? null };
    const project = (o: tf.Tensor) => batchMatMul(mergeHeads(o), this.kernels[3]!.read()).reshape([batch, seq, -1]);
    if (!withState) return project(linearAttention(q, k, v, opts));
    const r = linearAttention(q, k, v, { ...opts, returnState: true });
    return { output: project(r.output), state: r.state };
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => this.forward(Array.isArray(inputs) ? inputs[0]! : inputs, null, false) as tf.Tensor);
  }

  /**
   * Forward pass that starts from `cache` (null: empty) and returns the cache after these tokens.
   * Feeding a sequence in pieces, or one token at a time, equals one full call. Disposing the old cache is the caller's job.
   */
  callWithCache(x: tf.Tensor, cache: RecurrentCache | null = null): OutputWithCache {
    if (!this.built) this.build(x.shape);
    const r = tf.tidy(() => {
      const o = this.forward(x, cache, true) as OutputWithState;
      return o.state.z ? [o.output, o.state.s, o.state.z] : [o.output, o.state.s];
    });
    const state = r[2] ? { s: r[1]!, z: r[2] } : { s: r[1]! };
    return { output: r[0]!, cache: { state, position: (cache?.position ?? 0) + x.shape[1]! } };
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      numHeads: this.numHeads,
      keyDim: this.keyDim,
      valueDim: this.valueDim,
      outputDim: this.outputDim,
      featureMap: this.featureMap,
      normalize: this.normalize,
      mode: this.mode,
      chunkSize: this.chunkSize,
    };
  }
}

registerLayer(LinearAttention);
export type { RecurrentCache, OutputWithCache } from "../ops/projection";
