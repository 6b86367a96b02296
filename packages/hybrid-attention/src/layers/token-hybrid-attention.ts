// NAtS-L layer (official `natsl_attn_gdn.py`): q, k, v projections with SiLU, the Gated DeltaNet gates,
// a router that picks softmax or GDN per head and block of tokens from the block's mean input (argmax
// with a straight-through softmax, so the routing is learned by backpropagation without any budget
// regulariser, as in the code), per-token branch weights softmax(W_mix x) (index 0 → GDN, as the
// official layout), an output gate silu(W_g x) and an output projection.
// Simplifications (as the fixtures): both branches share the q, k, v heads; the branch weights come from
// x rather than from q; no short convolution; no forced "both ops" last block (it never changes an output).
import * as tf from "@tensorflow/tfjs";
import { assertBoolean, assertInteger, assertNumber, batchMatMul, checkLayerArgs, l2Normalize, lastDim, registerLayer } from "@attnkit/core";
import { gatedDeltaGates } from "../ops/gated-delta-rule";
import { checkLayerInput, mergeHeads, projectHeads, type LayerArgs, type LayerVariable } from "../ops/projection";
import { combineBranches, gdnStep, hybridSoftmax, natslRoute, routePerToken, straightThrough, tokenHybridAttention } from "../ops/token-hybrid";

export interface TokenHybridAttentionArgs extends LayerArgs {
  numHeads: number;
  keyDim: number;
  /** Default keyDim. */
  valueDim?: number;
  /** Tokens per routing block (default 64, official). */
  blockSize?: number;
  /** Default true (released configs). */
  decaySoftmaxBlocks?: boolean;
  /** eps of the branch RMSNorms (default 1e-6). */
  normEps?: number;
  /** Output size (default dModel). */
  outputDim?: number | null;
}

/** Generation cache of TokenHybridAttention. */
export interface TokenHybridCache {
  /** Keys and values of all past tokens `[b, h, P, *]` (softmax blocks and the current block need them). */
  k: tf.Tensor;
  v: tf.Tensor;
  /** Routes of the complete blocks `[b, h, ⌊P / blockSize⌋]`. */
  routes: tf.Tensor;
  /** GDN state at the start of the current block, and after its tokens so far `[b, h, dk, dv]`. */
  sStart: tf.Tensor;
  sCur: tf.Tensor;
  /** Πα of the current block so far `[b, h]`, and the sum of its inputs `[b, dModel]` (for the router). */
  decay: tf.Tensor;
  xSum: tf.Tensor;
  position: number;
}

const NAME = "TokenHybridAttention";
const KEYS = ["numHeads", "keyDim", "valueDim", "blockSize", "decaySoftmaxBlocks", "normEps", "outputDim"];
const silu = (y: tf.Tensor) => y.mul(tf.sigmoid(y));

export class TokenHybridAttention extends tf.layers.Layer {
  static className = NAME;
  readonly numHeads: number;
  readonly keyDim: number;
  readonly valueDim: number;
  readonly blockSize: number;
  readonly decaySoftmaxBlocks: boolean;
  readonly normEps: number;
  readonly outputDim: number | null;
  private w: Record<string, LayerVariable> = {};
  private dModel = 0;

  constructor(args: TokenHybridAttentionArgs) {
    checkLayerArgs(NAME, args, KEYS);
    super(args);
    assertInteger(NAME, "numHeads", args.numHeads, { min: 1 });
    assertInteger(NAME, "keyDim", args.keyDim, { min: 1 });
    this.numHeads = args.numHeads;
    this.keyDim = args.keyDim;
    this.valueDim = args.valueDim ?? args.keyDim;
    assertInteger(NAME, "valueDim", this.valueDim, { min: 1 });
    this.blockSize = args.blockSize ?? 64;
    assertInteger(NAME, "blockSize", this.blockSize, { min: 1 });
    this.decaySoftmaxBlocks = args.decaySoftmaxBlocks ?? true;
    assertBoolean(NAME, "decaySoftmaxBlocks", this.decaySoftmaxBlocks);
    this.normEps = args.normEps ?? 1e-6;
    assertNumber(NAME, "normEps", this.normEps, { min: 0, minExclusive: true });
    this.outputDim = args.outputDim ?? null;
    if (this.outputDim !== null) assertInteger(NAME, "outputDim", this.outputDim, { min: 1 });
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    this.dModel = lastDim(NAME, inputShape);
    const { numHeads: h, keyDim: dk, valueDim: dv } = this;
    const d = this.dModel;
    const glorot = () => tf.initializers.glorotUniform({});
    this.w.q = this.addWeight("query_kernel", [d, h * dk], "float32", glorot());
    this.w.k = this.addWeight("key_kernel", [d, h * dk], "float32", glorot());
    this.w.v = this.addWeight("value_kernel", [d, h * dv], "float32", glorot());
    this.w.a = this.addWeight("a_kernel", [d, h], "float32", glorot());
    this.w.b = this.addWeight("b_kernel", [d, h], "float32", glorot());
    this.w.aLog = this.addWeight("A_log", [h], "float32", tf.initializers.zeros());
    this.w.dtBias = this.addWeight("dt_bias", [h], "float32", tf.initializers.zeros());
    this.w.score = this.addWeight("router_kernel", [d, 2 * h], "float32", glorot());
    this.w.mix = this.addWeight("mix_kernel", [d, 2 * h], "float32", glorot());
    this.w.g = this.addWeight("gate_kernel", [d, h * dv], "float32", glorot());
    this.w.o = this.addWeight("output_kernel", [h * dv, this.outputDim ?? d], "float32", glorot());
    // A ~ spread over U(0, 16) and dt over logU(1e-3, 0.1), as the official GDN init (deterministic here).
    tf.tidy(() => {
      const at = (i: number) => (h === 1 ? 0.5 : i / (h - 1));
      this.w.aLog!.write(tf.tensor1d(Array.from({ length: h }, (_, i) => Math.log(1 + 15 * at(i)))));
      this.w.dtBias!.write(
        tf.tensor1d(
          Array.from({ length: h }, (_, i) => {
            const dt = Math.exp(Math.log(1e-3) + at(i) * (Math.log(0.1) - Math.log(1e-3)));
            return dt + Math.log(-Math.expm1(-dt));
          }),
        ),
      );
    });
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [...shape.slice(0, -1), this.outputDim ?? shape[shape.length - 1]!];
  }

  /** Per-token quantities of x [b, n, d], all [b, h, n, *] or [b, h, n]. */
  private project(x: tf.Tensor) {
    checkLayerInput(NAME, x, this.dModel);
    const [batch, seq] = x.shape as [number, number, number];
    const h = this.numHeads;
    const flat = x.reshape([batch * seq, this.dModel]);
    const q = silu(projectHeads(flat, this.w.q!, batch, seq, h, this.keyDim));
    const k = silu(projectHeads(flat, this.w.k!, batch, seq, h, this.keyDim));
    const v = silu(projectHeads(flat, this.w.v!, batch, seq, h, this.valueDim));
    const toHeads = (y: tf.Tensor) => y.reshape([batch, seq, h]).transpose([0, 2, 1]);
    const { logAlpha, beta } = gatedDeltaGates({ a: batchMatMul(flat, this.w.a!.read()), b: batchMatMul(flat, this.w.b!.read()), aLog: this.w.aLog!.read(), dtBias: this.w.dtBias!.read() });
    const mix = tf.softmax(batchMatMul(flat, this.w.mix!.read()).reshape([batch, seq, h, 2])).transpose([0, 2, 1, 3]); // [b, h, n, 2]
    const wLin = mix.slice([0, 0, 0, 0], [-1, -1, -1, 1]).squeeze([3]);
    const wAttn = mix.slice([0, 0, 0, 1], [-1, -1, -1, 1]).squeeze([3]);
    const gate = projectHeads(flat, this.w.g!, batch, seq, h, this.valueDim);
    return { q, k, v, alpha: tf.exp(toHeads(logAlpha)), beta: toHeads(beta), wLin, wAttn, gate, batch, seq };
  }

  private readOut(o: tf.Tensor, batch: number, seq: number): tf.Tensor {
    return batchMatMul(mergeHeads(o), this.w.o!.read()).reshape([batch, seq, -1]);
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      const p = this.project(x);
      const { route } = natslRoute(x, this.w.score!.read(), { heads: this.numHeads, blockSize: this.blockSize });
      const o = tokenHybridAttention(p.q, p.k, p.v, {
        alpha: p.alpha, beta: p.beta, route, blockSize: this.blockSize, wAttn: p.wAttn, wLin: p.wLin, gate: p.gate, decaySoftmaxBlocks: this.decaySoftmaxBlocks, normEps: this.normEps,
      });
      return this.readOut(o, p.batch, p.seq);
    });
  }

  /**
   * Forward pass continuing from `cache` (null: empty): pieces or single tokens give the outputs of one
   * full call. A block's route is decided when its last token arrives (it only affects later blocks).
   * The caller disposes the old cache.
   */
  callWithCache(x: tf.Tensor, cache: TokenHybridCache | null = null): { output: tf.Tensor; cache: TokenHybridCache } {
    if (!this.built) this.build(x.shape);
    const bs = this.blockSize;
    const h = this.numHeads;
    const out = tf.tidy(() => {
      const p = this.project(x);
      const { batch, seq } = p;
      const past = cache?.position ?? 0;
      const k = cache ? tf.concat([cache.k, p.k], 2) : p.k;
      const v = cache ? tf.concat([cache.v, p.v], 2) : p.v;
      // Routes of the blocks these tokens touch, from the block means (the first may continue a block).
      let xSum: tf.Tensor = cache?.xSum ?? tf.zeros([batch, this.dModel]);
      const routes: tf.Tensor[] = cache && cache.routes.shape[2]! > 0 ? [cache.routes] : [];
      const newRoutes: tf.Tensor[] = [];
      for (let t = 0; t < seq; t++) {
        xSum = xSum.add(x.slice([0, t, 0], [batch, 1, this.dModel]).reshape([batch, this.dModel]));
        const pos = past + t;
        if ((pos + 1) % bs === 0 || t === seq - 1) {
          const count = (pos % bs) + 1;
          const logits = batchMatMul(xSum.div(count), this.w.score!.read()).reshape([batch, h, 1, 2]);
          newRoutes.push(straightThrough(logits)); // [b, h, 1]
          if ((pos + 1) % bs === 0) xSum = tf.zeros([batch, this.dModel]);
        }
      }
      const allRoutes = tf.concat([...routes, ...newRoutes], 2);
      const scale = this.keyDim ** -0.5;
      const attention = hybridSoftmax(p.q, k, v, routePerToken(allRoutes, bs, past + seq), bs, scale, past);
      // GDN branch token by token from the carried states.
      const l2 = (y: tf.Tensor) => l2Normalize(y, { eps: 1e-6 });
      const qn = l2(p.q).mul(scale);
      const kn = l2(p.k);
      let sStart = cache?.sStart ?? tf.zeros([batch, h, this.keyDim, this.valueDim]);
      let sCur = cache?.sCur ?? sStart;
      let prod = cache?.decay ?? tf.ones([batch, h]);
      const outs: tf.Tensor[] = [];
      for (let t = 0; t < seq; t++) {
        const row = (y: tf.Tensor) => y.slice([0, 0, t, 0], [batch, h, 1, y.shape[3]!]).reshape([batch, h, y.shape[3]!]);
        const a = p.alpha.slice([0, 0, t], [batch, h, 1]).reshape([batch, h]);
        const step = gdnStep(sCur, row(qn), row(kn), row(p.v), a, p.beta.slice([0, 0, t], [batch, h, 1]).reshape([batch, h]));
        outs.push(step.o);
        sCur = step.s;
        prod = prod.mul(a);
        const pos = past + t;
        if ((pos + 1) % bs === 0) {
          const r = allRoutes.slice([0, 0, Math.floor(pos / bs)], [batch, h, 1]).expandDims(3);
          const kept = this.decaySoftmaxBlocks ? sStart.mul(prod.expandDims(2).expandDims(3)) : sStart;
          sStart = kept.mul(r).add(sCur.mul(tf.scalar(1).sub(r)));
          sCur = sStart;
          prod = tf.ones([batch, h]);
        }
      }
      const linear = tf.stack(outs, 2);
      const y = combineBranches(attention, linear, p.wAttn, p.wLin, p.gate, this.normEps);
      const complete = Math.floor((past + seq) / bs);
      const kept = allRoutes.slice([0, 0, 0], [batch, h, complete]);
      // Clones: a state carried through unchanged must not alias the old cache, which the caller disposes.
      return [this.readOut(y, batch, seq), k, v, kept, sStart.clone(), sCur.clone(), prod, xSum];
    });
    const [output, k, v, routes, sStart, sCur, decay, xSum] = out as tf.Tensor[];
    return { output: output!, cache: { k: k!, v: v!, routes: routes!, sStart: sStart!, sCur: sCur!, decay: decay!, xSum: xSum!, position: (cache?.position ?? 0) + x.shape[1]! } };
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      numHeads: this.numHeads,
      keyDim: this.keyDim,
      valueDim: this.valueDim,
      blockSize: this.blockSize,
      decaySoftmaxBlocks: this.decaySoftmaxBlocks,
      normEps: this.normEps,
      outputDim: this.outputDim,
    };
  }
}

registerLayer(TokenHybridAttention);
