// Multi-head self-attention with a temperature: TempScale (fixed τ), a learned per-head τ, SSMax with a
// learned per-head s, or log-n scaling. Input `[batch, seq, dModel]`, output `[batch, seq, outputDim]`.
import * as tf from "@tensorflow/tfjs";
import { assertBoolean, assertInteger, assertNumber, assertOneOf, batchMatMul, checkLayerArgs, OptionError, registerLayer, resolveScale } from "@attnkit/core";
import { logNScaledAttention } from "../ops/logn-attention";
import { ssmaxAttention } from "../ops/ssmax-attention";
import { temperatureAttention } from "../ops/temperature-attention";

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;
type LayerVariable = ReturnType<tf.layers.Layer["addWeight"]>;

export type TemperatureMode = "fixed" | "learned" | "ssmax" | "log-n";
export type TemperatureParametrization = "softplus" | "exp";

export interface TempScaleAttentionArgs extends LayerArgs {
  numHeads: number;
  /** Size of each head's queries and keys. */
  keyDim: number;
  /** Size of each head's values (default keyDim). */
  valueDim?: number;
  /** Size of the output (default: the input's last dimension). */
  outputDim?: number | null;
  causal?: boolean;
  /**
   * 'fixed': τ = `temperature` for every head (TempScale). 'learned': a per-head τ = softplus(θ) or
   * exp(θ), initialised at `temperature`. 'ssmax': SSMax with a learned per-head s (initialised at
   * `ssmaxS`) and fixed `ssmaxB`. 'log-n': log-n scaling with `trainLength`. Default 'fixed'.
   */
  temperatureMode?: TemperatureMode;
  /** τ (fixed) or its initial value (learned); default 1. */
  temperature?: number;
  /** How a learned τ is kept positive: τ = softplus(θ) or exp(θ) (default 'softplus'). */
  parametrization?: TemperatureParametrization;
  /** Initial s of SSMax (default 0.43, the paper's Fig. 1 value). */
  ssmaxS?: number;
  /** b of SSMax (default 0). */
  ssmaxB?: number;
  /** Training length L of log-n scaling (required in 'log-n' mode). */
  trainLength?: number | null;
  /** Multiplies q·kᵀ (default keyDim^−0.5). */
  scale?: number | null;
  /** Biases in the projections (default true). */
  useBias?: boolean;
}

const NAME = "TempScaleAttention";
const MODES = ["fixed", "learned", "ssmax", "log-n"] as const;
const PARAMS = ["softplus", "exp"] as const;
const KEYS = [
  "numHeads", "keyDim", "valueDim", "outputDim", "causal", "temperatureMode", "temperature", "parametrization",
  "ssmaxS", "ssmaxB", "trainLength", "scale", "useBias",
];

export class TempScaleAttention extends tf.layers.Layer {
  static className = NAME;
  readonly numHeads: number;
  readonly keyDim: number;
  readonly valueDim: number;
  readonly outputDim: number | null;
  readonly causal: boolean;
  readonly temperatureMode: TemperatureMode;
  readonly temperature: number;
  readonly parametrization: TemperatureParametrization;
  readonly ssmaxS: number;
  readonly ssmaxB: number;
  readonly trainLength: number | null;
  readonly scale: number | null;
  readonly useBias: boolean;
  private projections: { kernel: LayerVariable; bias: LayerVariable | null }[] = [];
  /** θ of a learned τ, or s of SSMax: one per head. */
  private headParam: LayerVariable | null = null;

  constructor(args: TempScaleAttentionArgs) {
    checkLayerArgs(NAME, args, KEYS);
    super(args);
    assertInteger(NAME, "numHeads", args.numHeads, { min: 1 });
    assertInteger(NAME, "keyDim", args.keyDim, { min: 1 });
    if (args.valueDim !== undefined) assertInteger(NAME, "valueDim", args.valueDim, { min: 1 });
    if (args.outputDim !== undefined && args.outputDim !== null) assertInteger(NAME, "outputDim", args.outputDim, { min: 1 });
    if (args.causal !== undefined) assertBoolean(NAME, "causal", args.causal);
    const mode = args.temperatureMode ?? "fixed";
    assertOneOf(NAME, "temperatureMode", mode, MODES);
    const temperature = args.temperature ?? 1;
    assertNumber(NAME, "temperature", temperature, { min: 0, minExclusive: true });
    const parametrization = args.parametrization ?? "softplus";
    assertOneOf(NAME, "parametrization", parametrization, PARAMS);
    const ssmaxS = args.ssmaxS ?? 0.43;
    assertNumber(NAME, "ssmaxS", ssmaxS);
    const ssmaxB = args.ssmaxB ?? 0;
    assertNumber(NAME, "ssmaxB", ssmaxB);
    const trainLength = args.trainLength ?? null;
    if (mode === "log-n" && trainLength === null) throw new OptionError(`${NAME}: trainLength is required when temperatureMode is 'log-n'`);
    if (trainLength !== null) assertInteger(NAME, "trainLength", trainLength, { min: 2 });
    if (args.scale !== undefined && args.scale !== null) resolveScale(NAME, args.scale, 1);
    if (args.useBias !== undefined) assertBoolean(NAME, "useBias", args.useBias);
    this.numHeads = args.numHeads;
    this.keyDim = args.keyDim;
    this.valueDim = args.valueDim ?? args.keyDim;
    this.outputDim = args.outputDim ?? null;
    this.causal = args.causal ?? false;
    this.temperatureMode = mode;
    this.temperature = temperature;
    this.parametrization = parametrization;
    this.ssmaxS = ssmaxS;
    this.ssmaxB = ssmaxB;
    this.trainLength = trainLength;
    this.scale = args.scale ?? null;
    this.useBias = args.useBias ?? true;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const dModel = shape[shape.length - 1];
    if (typeof dModel !== "number") throw new OptionError(`${NAME}: the last input dimension must be known, got ${String(dModel)}`);
    const h = this.numHeads;
    const sizes: [string, number, number][] = [
      ["query", dModel, h * this.keyDim],
      ["key", dModel, h * this.keyDim],
      ["value", dModel, h * this.valueDim],
      ["output", h * this.valueDim, this.outputDim ?? dModel],
    ];
    this.projections = sizes.map(([name, rows, cols]) => ({
      kernel: this.addWeight(`${name}_kernel`, [rows, cols], "float32", tf.initializers.glorotUniform({})),
      bias: this.useBias ? this.addWeight(`${name}_bias`, [cols], "float32", tf.initializers.zeros()) : null,
    }));
    if (this.temperatureMode === "learned") {
      // θ with τ(θ) = the initial temperature: softplus⁻¹(τ) = log(eᵗ − 1), exp⁻¹(τ) = log τ.
      const t = this.temperature;
      const theta = this.parametrization === "exp" ? Math.log(t) : t > 20 ? t : Math.log(Math.expm1(t));
      this.headParam = this.addWeight("temperature_param", [h], "float32", tf.initializers.constant({ value: theta }));
    } else if (this.temperatureMode === "ssmax") {
      this.headParam = this.addWeight("ssmax_s", [h], "float32", tf.initializers.constant({ value: this.ssmaxS }));
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [...shape.slice(0, -1), this.outputDim ?? shape[shape.length - 1]!];
  }

  /** The per-head temperatures in use (`[numHeads]`; the caller disposes). In 'ssmax'/'log-n' mode: ones. */
  temperatures(): tf.Tensor1D {
    return tf.tidy(() => {
      if (this.temperatureMode === "learned" && this.headParam) return this.positive(this.headParam.read()) as tf.Tensor1D;
      const t = this.temperatureMode === "fixed" ? this.temperature : 1;
      return tf.fill([this.numHeads], t) as tf.Tensor1D;
    });
  }

  private positive(theta: tf.Tensor): tf.Tensor {
    return this.parametrization === "exp" ? tf.exp(theta) : tf.softplus(theta);
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      const [batch, seq, dModel] = x.shape as [number, number, number];
      const flat = x.reshape([batch * seq, dModel]);
      const project = (i: number, input: tf.Tensor): tf.Tensor => {
        const p = this.projections[i]!;
        const y = batchMatMul(input, p.kernel.read());
        return p.bias ? y.add(p.bias.read()) : y;
      };
      const heads = (y: tf.Tensor, d: number) => y.reshape([batch, seq, this.numHeads, d]).transpose([0, 2, 1, 3]);
      const q = heads(project(0, flat), this.keyDim);
      const k = heads(project(1, flat), this.keyDim);
      const v = heads(project(2, flat), this.valueDim);
      const common = { causal: this.causal, scale: this.scale };
      let o: tf.Tensor;
      switch (this.temperatureMode) {
        case "fixed":
          o = temperatureAttention(q, k, v, { ...common, temperature: this.temperature });
          break;
        case "learned":
          o = temperatureAttention(q, k, v, { ...common, temperature: this.positive(this.headParam!.read()) });
          break;
        case "ssmax":
          o = ssmaxAttention(q, k, v, { ...common, s: this.headParam!.read(), b: this.ssmaxB });
          break;
        case "log-n":
          o = logNScaledAttention(q, k, v, { ...common, trainLength: this.trainLength! });
          break;
      }
      const merged = o.transpose([0, 2, 1, 3]).reshape([batch * seq, this.numHeads * this.valueDim]);
      const out = project(3, merged);
      return out.reshape([batch, seq, out.shape[1]!]);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      numHeads: this.numHeads,
      keyDim: this.keyDim,
      valueDim: this.valueDim,
      outputDim: this.outputDim,
      causal: this.causal,
      temperatureMode: this.temperatureMode,
      temperature: this.temperature,
      parametrization: this.parametrization,
      ssmaxS: this.ssmaxS,
      ssmaxB: this.ssmaxB,
      trainLength: this.trainLength,
      scale: this.scale,
      useBias: this.useBias,
    };
  }
}

registerLayer(TempScaleAttention);
