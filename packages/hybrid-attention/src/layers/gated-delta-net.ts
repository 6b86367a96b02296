// Gated DeltaNet layer (fla GatedDeltaNet / NVlabs lit_gpt): q, k, v projections, each through a causal
// short convolution (fla's ShortConvolution: depth-wise, `convSize` taps, no bias) and SiLU, the official
// gates (log α = −exp(A_log)·softplus(W_a x + dt_bias), β = sigmoid(W_b x)), the gated delta rule with
// L2-normalised q and k, then o_proj(RMSNorm_head(o) ⊙ silu(W_g x)) (FusedRMSNormGated, eps 1e-5).
// Not included: allow_neg_eigval.
import * as tf from "@tensorflow/tfjs";
import { assertInteger, assertNumber, assertOneOf, batchMatMul, causalConv1d, causalConvHistory, checkLayerArgs, lastDim, registerLayer, rmsNorm } from "@attnkit/core";
import { gatedDeltaGates, gatedDeltaRule } from "../ops/gated-delta-rule";
import { checkLayerInput, type LayerArgs, type LayerVariable, type OutputWithCache, type RecurrentCache } from "../ops/projection";

export interface GatedDeltaNetArgs extends LayerArgs {
  numHeads: number;
  keyDim: number;
  /** Default 2·keyDim (fla's expand_v = 2). */
  valueDim?: number;
  /** Output size (default dModel). */
  outputDim?: number | null;
  /** Default 'chunk'. */
  mode?: "recurrent" | "chunk";
  /** Default 64. */
  chunkSize?: number;
  /** eps of the output RMSNorm (default 1e-5). */
  normEps?: number;
  /** Taps of the short convolutions of q, k and v (default 4, fla's conv_size; 0: none, SiLU only). */
  convSize?: number;
}

const NAME = "GatedDeltaNet";
const KEYS = ["numHeads", "keyDim", "valueDim", "outputDim", "mode", "chunkSize", "normEps", "convSize"];
const PROJECTIONS = ["q", "k", "v"] as const;

// A_log = log A with A spread over the official U(0, 16) range, and dt_bias = softplus⁻¹(dt) with dt
// spread log-uniformly over [1e-3, 0.1] (deterministic here instead of random draws).
function gateInit(heads: number): { aLog: number[]; dtBias: number[] } {
  const at = (i: number) => (heads === 1 ? 0.5 : i / (heads - 1));
  const aLog = Array.from({ length: heads }, (_, i) => Math.log(1 + 15 * at(i)));
  const dtBias = Array.from({ length: heads }, (_, i) => {
    const dt = Math.max(1e-4, Math.exp(Math.log(1e-3) + at(i) * (Math.log(0.1) - Math.log(1e-3))));
    return dt + Math.log(-Math.expm1(-dt));
  });
  return { aLog, dtBias };
}

const silu = (y: tf.Tensor) => y.mul(tf.sigmoid(y));

export class GatedDeltaNet extends tf.layers.Layer {
  static className = NAME;
  readonly numHeads: number;
  readonly keyDim: number;
  readonly valueDim: number;
  readonly outputDim: number | null;
  readonly mode: "recurrent" | "chunk";
  readonly chunkSize: number;
  readonly normEps: number;
  readonly convSize: number;
  private w: Record<string, LayerVariable> = {};
  private dModel = 0;

  constructor(args: GatedDeltaNetArgs) {
    checkLayerArgs(NAME, args, KEYS);
    super(args);
    assertInteger(NAME, "numHeads", args.numHeads, { min: 1 });
    assertInteger(NAME, "keyDim", args.keyDim, { min: 1 });
    if (args.valueDim !== undefined) assertInteger(NAME, "valueDim", args.valueDim, { min: 1 });
    if (args.outputDim !== undefined && args.outputDim !== null) assertInteger(NAME, "outputDim", args.outputDim, { min: 1 });
    this.mode = args.mode ?? "chunk";
    assertOneOf(NAME, "mode", this.mode, ["recurrent", "chunk"] as const);
    this.chunkSize = args.chunkSize ?? 64;
    assertInteger(NAME, "chunkSize", this.chunkSize, { min: 1 });
    this.normEps = args.normEps ?? 1e-5;
    assertNumber(NAME, "normEps", this.normEps, { min: 0, minExclusive: true });
    this.convSize = args.convSize ?? 4;
    assertInteger(NAME, "convSize", this.convSize, { min: 0 });
    this.numHeads = args.numHeads;
    this.keyDim = args.keyDim;
    this.valueDim = args.valueDim ?? 2 * args.keyDim;
    this.outputDim = args.outputDim ?? null;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    this.dModel = lastDim(NAME, inputShape);
    const h = this.numHeads;
    const d = this.dModel;
    const glorot = () => tf.initializers.glorotUniform({});
    this.w.q = this.addWeight("query_kernel", [d, h * this.keyDim], "float32", glorot());
    this.w.k = this.addWeight("key_kernel", [d, h * this.keyDim], "float32", glorot());
    this.w.v = this.addWeight("value_kernel", [d, h * this.valueDim], "float32", glorot());
    if (this.convSize > 0) {
      // torch Conv1d's default initialisation: U(±1/√fan_in), fan_in = taps for a depth-wise kernel.
      const bound = 1 / Math.sqrt(this.convSize);
      for (const p of PROJECTIONS) this.w[`${p}Conv`] = this.addWeight(`${p}_conv_kernel`, [this.convSize, this.widthOf(p)], "float32", tf.initializers.randomUniform({ minval: -bound, maxval: bound }));
    }
    this.w.a = this.addWeight("a_kernel", [d, h], "float32", glorot());
    this.w.b = this.addWeight("b_kernel", [d, h], "float32", glorot());
    this.w.aLog = this.addWeight("A_log", [h], "float32", tf.initializers.zeros());
    this.w.dtBias = this.addWeight("dt_bias", [h], "float32", tf.initializers.zeros());
    this.w.g = this.addWeight("gate_kernel", [d, h * this.valueDim], "float32", glorot());
    this.w.norm = this.addWeight("norm_weight", [this.valueDim], "float32", tf.initializers.ones());
    this.w.o = this.addWeight("output_kernel", [h * this.valueDim, this.outputDim ?? d], "float32", glorot());
    const init = gateInit(h);
    tf.tidy(() => {
      this.w.aLog!.write(tf.tensor1d(init.aLog));
      this.w.dtBias!.write(tf.tensor1d(init.dtBias));
    });
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [...shape.slice(0, -1), this.outputDim ?? shape[shape.length - 1]!];
  }

  /** Per-head size of projection p (values are valueDim wide, queries and keys keyDim). */
  private headSizeOf(p: (typeof PROJECTIONS)[number]): number {
    return p === "v" ? this.valueDim : this.keyDim;
  }

  private widthOf(p: (typeof PROJECTIONS)[number]): number {
    return this.numHeads * this.headSizeOf(p);
  }

  /** With `cache` (null: an empty one) also returns the histories of the short convolutions. */
  private forward(x: tf.Tensor, cache?: RecurrentCache | null): { output: tf.Tensor; s: tf.Tensor; conv: tf.Tensor[] } {
    checkLayerInput(NAME, x, this.dModel);
    const [batch, seq] = x.shape as [number, number, number];
    const h = this.numHeads;
    const flat = x.reshape([batch * seq, this.dModel]);
    const conv: tf.Tensor[] = [];
    // [b, h, t, size]: projection → short convolution (continuing the cached rows) → SiLU.
    const [q, k, v] = PROJECTIONS.map((p, i) => {
      let y = batchMatMul(flat, this.w[p]!.read()).reshape([batch, seq, this.widthOf(p)]);
      if (this.convSize > 0) {
        const history = cache?.conv?.[i];
        if (cache !== undefined) conv.push(causalConvHistory(y, this.convSize, history));
        y = causalConv1d(y, this.w[`${p}Conv`]!.read(), history ? { history } : {});
      }
      return silu(y).reshape([batch, seq, h, this.headSizeOf(p)]).transpose([0, 2, 1, 3]);
    }) as [tf.Tensor, tf.Tensor, tf.Tensor];
    const toHeads = (y: tf.Tensor) => y.reshape([batch, seq, h]).transpose([0, 2, 1]); // [b, h, t]
    const { logAlpha, beta } = gatedDeltaGates({ a: batchMatMul(flat, this.w.a!.read()), b: batchMatMul(flat, this.w.b!.read()), aLog: this.w.aLog!.read(), dtBias: this.w.dtBias!.read() });
    const r = gatedDeltaRule(q, k, v, {
      logAlpha: toHeads(logAlpha), beta: toHeads(beta), qkL2Norm: true, chunkSize: this.chunkSize, mode: seq === 1 ? "recurrent" : this.mode, initialState: cache?.state ?? null, returnState: true,
    });
    const o = rmsNorm(r.output.transpose([0, 2, 1, 3]), { weight: this.w.norm!.read(), eps: this.normEps }); // [b, t, h, dv]
    const gate = silu(batchMatMul(flat, this.w.g!.read()).reshape([batch, seq, h, this.valueDim]));
    const merged = o.mul(gate).reshape([batch * seq, h * this.valueDim]);
    return { output: batchMatMul(merged, this.w.o!.read()).reshape([batch, seq, -1]), s: r.state.s, conv };
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => this.forward(Array.isArray(inputs) ? inputs[0]! : inputs).output);
  }

  /** Forward pass from `cache` (null: empty); pieces or single tokens equal one full call. The caller disposes the old cache. */
  callWithCache(x: tf.Tensor, cache: RecurrentCache | null = null): OutputWithCache {
    if (!this.built) this.build(x.shape);
    const [output, s, ...conv] = tf.tidy(() => {
      const o = this.forward(x, cache);
      return [o.output, o.s, ...o.conv];
    });
    return { output: output!, cache: { state: { s: s! }, position: (cache?.position ?? 0) + x.shape[1]!, ...(conv.length > 0 ? { conv } : {}) } };
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      numHeads: this.numHeads,
      keyDim: this.keyDim,
      valueDim: this.valueDim,
      outputDim: this.outputDim,
      mode: this.mode,
      chunkSize: this.chunkSize,
      normEps: this.normEps,
      convSize: this.convSize,
    };
  }
}

registerLayer(GatedDeltaNet);
