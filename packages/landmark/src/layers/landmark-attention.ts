// Multi-head landmark attention layer: q, k, v projections, training-time grouped attention over a
// sequence that already holds landmark tokens in the standard layout, output projection. For
// generation, `callWithMemory` runs the same weights against a LandmarkMemory (top-k block retrieval).
import * as tf from "@tensorflow/tfjs";
import { OptionError, ShapeError, assertInteger, assertKnownOptions, assertNumber, assertOneOf, batchMatMul, registerLayer, shapeString, checkLayerArgs } from "@attnkit/core";
import { landmarkAttention } from "../ops/landmark-attention";
import { SELECTIONS, type LandmarkSelection } from "../ops/retrieval";
import { LandmarkMemory } from "./landmark-memory";

export interface LandmarkAttentionArgs {
  numHeads: number;
  /** Per-head query/key size. */
  keyDim: number;
  /** Per-head value size (default keyDim). */
  valueDim?: number;
  /** Regular tokens per block (the paper's 50). */
  blockSize: number;
  /** Blocks retrieved per token and head at inference (default 4; the LLaMA passkey test uses 5). */
  topK?: number;
  /** Default 'per-token-and-head'. */
  selection?: LandmarkSelection;
  /** RoPE base, or null (default) for none. */
  ropeBase?: number | null;
  name?: string;
  trainable?: boolean;
  inputShape?: (number | null)[];
  batchInputShape?: (number | null)[];
  dtype?: "float32";
}

const NAME = "LandmarkAttention";
const KEYS = ["numHeads", "keyDim", "valueDim", "blockSize", "topK", "selection", "ropeBase"];

type LayerVariable = ReturnType<tf.layers.Layer["addWeight"]>;

export class LandmarkAttention extends tf.layers.Layer {
  static className = NAME;
  readonly numHeads: number;
  readonly keyDim: number;
  readonly valueDim: number;
  readonly blockSize: number;
  readonly topK: number;
  readonly selection: LandmarkSelection;
  readonly ropeBase: number | null;
  private w: Record<"q" | "k" | "v" | "o", LayerVariable> | null = null;

  constructor(args: LandmarkAttentionArgs) {
    checkLayerArgs(NAME, args, KEYS);
    super(args);
    assertInteger(NAME, "numHeads", args.numHeads, { min: 1 });
    assertInteger(NAME, "keyDim", args.keyDim, { min: 1 });
    if (args.valueDim !== undefined) assertInteger(NAME, "valueDim", args.valueDim, { min: 1 });
    assertInteger(NAME, "blockSize", args.blockSize, { min: 1 });
    const topK = args.topK ?? 4;
    assertInteger(NAME, "topK", topK, { min: 0 });
    const selection = args.selection ?? "per-token-and-head";
    assertOneOf(NAME, "selection", selection, SELECTIONS);
    const ropeBase = args.ropeBase ?? null;
    if (ropeBase !== null) {
      assertNumber(NAME, "ropeBase", ropeBase, { min: 0, minExclusive: true });
      if (args.keyDim % 2 !== 0) throw new OptionError(`${NAME}: keyDim must be even when ropeBase is set, got ${args.keyDim}`);
    }
    this.numHeads = args.numHeads;
    this.keyDim = args.keyDim;
    this.valueDim = args.valueDim ?? args.keyDim;
    this.blockSize = args.blockSize;
    this.topK = topK;
    this.selection = selection;
    this.ropeBase = ropeBase;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const d = shape[shape.length - 1];
    if (shape.length !== 3 || typeof d !== "number") throw new ShapeError(`${NAME}: input must have shape [batch, seq, dModel], got ${shapeString(shape.map((x) => x ?? -1))}`);
    const h = this.numHeads;
    const glorot = () => tf.initializers.glorotUniform({});
    this.w = {
      q: this.addWeight("query_kernel", [d, h * this.keyDim], "float32", glorot()),
      k: this.addWeight("key_kernel", [d, h * this.keyDim], "float32", glorot()),
      v: this.addWeight("value_kernel", [d, h * this.valueDim], "float32", glorot()),
      o: this.addWeight("output_kernel", [h * this.valueDim, d], "float32", glorot()),
    };
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
  }

  /** `[b, s, dModel]` → `[b, h, s, size]` through the kernel `which`. */
  private project(x: tf.Tensor, which: "q" | "k" | "v", size: number): tf.Tensor {
    const [b, s] = x.shape as [number, number, number];
    return batchMatMul(x, this.w![which].read()).reshape([b, s, this.numHeads, size]).transpose([0, 2, 1, 3]);
  }

  private merge(o: tf.Tensor): tf.Tensor {
    const [b, h, s, dv] = o.shape as [number, number, number, number];
    return batchMatMul(o.transpose([0, 2, 1, 3]).reshape([b, s, h * dv]), this.w!.o.read());
  }

  private checkInput(fn: string, x: tf.Tensor): void {
    if (x.rank !== 3) throw new ShapeError(`${NAME}.${fn}: input must have shape [batch, seq, dModel], got ${shapeString(x.shape)}`);
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      this.checkInput("call", x);
      const q = this.project(x, "q", this.keyDim);
      const k = this.project(x, "k", this.keyDim);
      const v = this.project(x, "v", this.valueDim);
      return this.merge(landmarkAttention(q, k, v, { blockSize: this.blockSize, ropeBase: this.ropeBase }));
    });
  }

  /** A generation cache for this layer's settings (the caller disposes it). */
  createMemory(): LandmarkMemory {
    return new LandmarkMemory({ blockSize: this.blockSize, topK: this.topK, selection: this.selection, ropeBase: this.ropeBase });
  }

  /**
   * Runs new positions `x: [b, c, dModel]` (continuing the landmark layout) against `memory`, which
   * they are appended to; `chunkSize` splits a long prompt into chunks (default: one chunk).
   */
  callWithMemory(x: tf.Tensor, memory: LandmarkMemory, options: { chunkSize?: number } = {}): tf.Tensor {
    assertKnownOptions(`${NAME}.callWithMemory`, options, ["chunkSize"]);
    if (!(memory instanceof LandmarkMemory)) throw new OptionError(`${NAME}.callWithMemory: memory must be a LandmarkMemory (see createMemory()), got ${String(memory)}`);
    this.checkInput("callWithMemory", x);
    if (!this.built) this.build(x.shape);
    return tf.tidy(() => {
      const q = this.project(x, "q", this.keyDim);
      const k = this.project(x, "k", this.keyDim);
      const v = this.project(x, "v", this.valueDim);
      const o = memory.attendPrompt(q, k, v, { chunkSize: options.chunkSize ?? Math.max(1, x.shape[1]!) });
      return this.merge(o);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      numHeads: this.numHeads,
      keyDim: this.keyDim,
      valueDim: this.valueDim,
      blockSize: this.blockSize,
      topK: this.topK,
      selection: this.selection,
      ropeBase: this.ropeBase,
    };
  }
}

registerLayer(LandmarkAttention);
