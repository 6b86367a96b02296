// TransNormerLLM's token mixer with Lightning attention (TNL paper eqs 9–14, HF NormLinearAttention):
//   Q = silu(XW_q), K = silu(XW_k), V = XW_v, U = XW_u;  O = SRMSNorm((QKᵀ ⊙ D)V) ⊙ U, then W_o.
// D_ts = λ_h^{t−s}, a fixed (not learned: a learned λ gave NaNs in the paper) decay per head; no 1/√d and
// no denominator. SRMSNorm runs over all heads concatenated, as in the HF code. Optional LRPE on q and k
// (the paper uses it in the first layer only); its θ is kept at HF's initial value here, not learned.
import * as tf from "@tensorflow/tfjs";
import { assertBoolean, assertInteger, assertNumber, assertOneOf, batchMatMul, checkLayerArgs, lastDim, OptionError, registerLayer } from "@attnkit/core";
import { decayLinearAttention } from "../ops/decay-linear-attention";
import { checkLayerInput, mergeHeads, projectHeads, type LayerArgs, type LayerVariable, type OutputWithCache, type RecurrentCache } from "../ops/projection";
import type { LinearMode } from "../ops/state";
import { lrpe, srmsNorm, transnormerDecay } from "../ops/transnormer";

export interface LightningAttentionArgs extends LayerArgs {
  numHeads: number;
  keyDim: number;
  /** Default keyDim. */
  valueDim?: number;
  /** Output size (default dModel). */
  outputDim?: number | null;
  /** λ per head in (0, 1]; default transnormerDecay({ heads, layers, layerIndex, variant: decayVariant }). */
  decay?: number[] | null;
  /** Depth of the model and this layer's index, for the default decay (defaults 1 and 0). */
  layers?: number;
  layerIndex?: number;
  /** Default 'official'. */
  decayVariant?: "official" | "paper" | "fla";
  /** LRPE on q and k (default false). */
  useLrpe?: boolean;
  /** SRMSNorm eps (default 1e-6). */
  eps?: number;
  /** Default 'chunk'. */
  mode?: LinearMode;
  /** Default 64. */
  chunkSize?: number;
}

const NAME = "LightningAttention";
const KEYS = ["numHeads", "keyDim", "valueDim", "outputDim", "decay", "layers", "layerIndex", "decayVariant", "useLrpe", "eps", "mode", "chunkSize"];

export class LightningAttention extends tf.layers.Layer {
  static className = NAME;
  readonly numHeads: number;
  readonly keyDim: number;
  readonly valueDim: number;
  readonly outputDim: number | null;
  readonly decay: number[];
  readonly layers: number;
  readonly layerIndex: number;
  readonly decayVariant: "official" | "paper" | "fla";
  readonly useLrpe: boolean;
  readonly eps: number;
  readonly mode: LinearMode;
  readonly chunkSize: number;
  private kernels: LayerVariable[] = [];
  private dModel = 0;

  constructor(args: LightningAttentionArgs) {
    checkLayerArgs(NAME, args, KEYS);
    super(args);
    assertInteger(NAME, "numHeads", args.numHeads, { min: 1 });
    assertInteger(NAME, "keyDim", args.keyDim, { min: 1 });
    if (args.valueDim !== undefined) assertInteger(NAME, "valueDim", args.valueDim, { min: 1 });
    if (args.outputDim !== undefined && args.outputDim !== null) assertInteger(NAME, "outputDim", args.outputDim, { min: 1 });
    this.layers = args.layers ?? 1;
    this.layerIndex = args.layerIndex ?? 0;
    this.decayVariant = args.decayVariant ?? "official";
    assertOneOf(NAME, "decayVariant", this.decayVariant, ["official", "paper", "fla"] as const);
    const decay = args.decay ?? transnormerDecay({ heads: args.numHeads, layers: this.layers, layerIndex: this.layerIndex, variant: this.decayVariant });
    if (!Array.isArray(decay) || decay.length !== args.numHeads || decay.some((d) => typeof d !== "number" || !(d > 0 && d <= 1))) {
      throw new OptionError(`${NAME}: decay must be ${args.numHeads} numbers in (0, 1], got ${JSON.stringify(decay)}`);
    }
    this.useLrpe = args.useLrpe ?? false;
    assertBoolean(NAME, "useLrpe", this.useLrpe);
    this.eps = args.eps ?? 1e-6;
    assertNumber(NAME, "eps", this.eps, { min: 0, minExclusive: true });
    this.mode = args.mode ?? "chunk";
    assertOneOf(NAME, "mode", this.mode, ["parallel", "recurrent", "chunk"] as const);
    this.chunkSize = args.chunkSize ?? 64;
    assertInteger(NAME, "chunkSize", this.chunkSize, { min: 1 });
    this.numHeads = args.numHeads;
    this.keyDim = args.keyDim;
    this.valueDim = args.valueDim ?? args.keyDim;
    this.outputDim = args.outputDim ?? null;
    this.decay = [...decay];
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    this.dModel = lastDim(NAME, inputShape);
    const h = this.numHeads;
    const sizes: [string, number, number][] = [
      ["query", this.dModel, h * this.keyDim],
      ["key", this.dModel, h * this.keyDim],
      ["value", this.dModel, h * this.valueDim],
      ["gate", this.dModel, h * this.valueDim],
      ["output", h * this.valueDim, this.outputDim ?? this.dModel],
    ];
    this.kernels = sizes.map(([name, rows, cols]) => this.addWeight(`${name}_kernel`, [rows, cols], "float32", tf.initializers.glorotUniform({})));
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [...shape.slice(0, -1), this.outputDim ?? shape[shape.length - 1]!];
  }

  private forward(x: tf.Tensor, cache: RecurrentCache | null): { output: tf.Tensor; s: tf.Tensor } {
    checkLayerInput(NAME, x, this.dModel);
    const [batch, seq] = x.shape as [number, number, number];
    const flat = x.reshape([batch * seq, this.dModel]);
    const offset = cache?.position ?? 0;
    const silu = (y: tf.Tensor) => y.mul(tf.sigmoid(y));
    let q = silu(projectHeads(flat, this.kernels[0]!, batch, seq, this.numHeads, this.keyDim));
    let k = silu(projectHeads(flat, this.kernels[1]!, batch, seq, this.numHeads, this.keyDim));
    if (this.useLrpe) {
      q = lrpe(q, { offset });
      k = lrpe(k, { offset });
    }
    const v = projectHeads(flat, this.kernels[2]!, batch, seq, this.numHeads, this.valueDim);
    const r = decayLinearAttention(q, k, v, {
      decay: this.decay, scale: 1, chunkSize: this.chunkSize, mode: seq === 1 ? "recurrent" : this.mode, initialState: cache?.state ?? null, returnState: true,
    });
    const gate = batchMatMul(flat, this.kernels[3]!.read());
    const normed = srmsNorm(mergeHeads(r.output), { eps: this.eps }).mul(gate);
    return { output: batchMatMul(normed, this.kernels[4]!.read()).reshape([batch, seq, -1]), s: r.state.s };
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => this.forward(Array.isArray(inputs) ? inputs[0]! : inputs, null).output);
  }

  /** Forward pass from `cache` (null: empty); pieces or single tokens equal one full call. The caller disposes the old cache. */
  callWithCache(x: tf.Tensor, cache: RecurrentCache | null = null): OutputWithCache {
    if (!this.built) this.build(x.shape);
    const r = tf.tidy(() => {
      const o = this.forward(x, cache);
      return [o.output, o.s];
    });
    return { output: r[0]!, cache: { state: { s: r[1]! }, position: (cache?.position ?? 0) + x.shape[1]! } };
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      numHeads: this.numHeads,
      keyDim: this.keyDim,
      valueDim: this.valueDim,
      outputDim: this.outputDim,
      decay: this.decay,
      layers: this.layers,
      layerIndex: this.layerIndex,
      decayVariant: this.decayVariant,
      useLrpe: this.useLrpe,
      eps: this.eps,
      mode: this.mode,
      chunkSize: this.chunkSize,
    };
  }
}

registerLayer(LightningAttention);
