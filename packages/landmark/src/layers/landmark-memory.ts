// Generation cache of landmark attention (llama_mem.py / mem_cache.py): it keeps every key and value
// seen so far; the complete blocks before each new chunk are the memory, from which every query
// retrieves its top-k blocks by landmark score; the incomplete tail and the chunk itself are local.
// The cache owns its tensors: call dispose() (or reset()) when done with it.
import * as tf from "@tensorflow/tfjs";
import { OptionError, ShapeError, assertInteger, assertKnownOptions, checkAttentionInputs, shapeString } from "@attnkit/core";
import { retrievalPlan, retrieve, type LandmarkRetrievalResult, type LandmarkSelection } from "../ops/retrieval";

export interface LandmarkMemoryOptions {
  blockSize: number;
  /** Memory blocks retrieved per query and head. */
  topK: number;
  /** Default 'per-token-and-head'. */
  selection?: LandmarkSelection;
  scale?: number | null;
  /** RoPE base (keys are stored unrotated; positions follow the official stingy mapping). */
  ropeBase?: number | null;
}

const NAME = "LandmarkMemory";
const KEYS = ["blockSize", "topK", "selection", "scale", "ropeBase"];

export class LandmarkMemory {
  readonly options: Readonly<LandmarkMemoryOptions>;
  private keys: tf.Tensor | null = null;
  private values: tf.Tensor | null = null;

  constructor(options: LandmarkMemoryOptions) {
    assertKnownOptions(NAME, options, KEYS);
    if (!options || typeof options !== "object") throw new OptionError(`${NAME}: options must be an object with blockSize and topK, got ${String(options)}`);
    assertInteger(NAME, "blockSize", options.blockSize, { min: 1 });
    assertInteger(NAME, "topK", options.topK, { min: 0 });
    this.options = { ...options };
  }

  /** Positions cached so far (landmarks included). */
  get length(): number {
    return this.keys?.shape[2] ?? 0;
  }

  /** Complete blocks in the cache (the memory the next chunk retrieves from). */
  get blocks(): number {
    return Math.floor(this.length / (this.options.blockSize + 1));
  }

  /** True when the next position must be a landmark (it closes the current block). */
  get nextIsLandmark(): boolean {
    return this.length % (this.options.blockSize + 1) === this.options.blockSize;
  }

  /**
   * Appends the new positions `k, v: [b, h, c, ·]` (continuing the landmark layout) and returns their
   * attention output `[b, h, c, dv]` for queries `q: [b, h, c, d]`; with `returnSelection`, also the
   * retrieved blocks and their scores.
   */
  attend(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor): tf.Tensor4D;
  attend(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: { returnSelection: true }): LandmarkRetrievalResult;
  attend(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: { returnSelection?: boolean } = {}): tf.Tensor4D | LandmarkRetrievalResult {
    const fn = `${NAME}.attend`;
    assertKnownOptions(fn, options, ["returnSelection"]);
    const dims = checkAttentionInputs(fn, q, k, v);
    if (dims.seqQ !== dims.seqK) throw new ShapeError(`${fn}: q, k and v must cover the same new positions, got q ${shapeString(q.shape)} and k ${shapeString(k.shape)}`);
    if (this.keys && (this.keys.shape[0] !== dims.batch || this.keys.shape[1] !== dims.heads || this.keys.shape[3] !== dims.dim || this.values!.shape[3] !== dims.dimV)) {
      throw new ShapeError(
        `${fn}: k and v must match the cached [${this.keys.shape[0]}, ${this.keys.shape[1]}, *, ${this.keys.shape[3]}] and [.., ${this.values!.shape[3]}], got k ${shapeString(k.shape)} and v ${shapeString(v.shape)}`,
      );
    }
    // Validate before anything is allocated; the memory is every complete block before the chunk.
    const plan = { ...retrievalPlan(fn, q, k, v, { ...this.options, memoryLength: 0 }, [...KEYS, "memoryLength"]), memoryLength: this.blocks * (this.options.blockSize + 1) };
    const allK = this.keys ? tf.concat([this.keys, k], 2) : k.clone();
    const allV = this.values ? tf.concat([this.values, v], 2) : v.clone();
    const result = retrieve(q, allK, allV, plan);
    tf.dispose([this.keys, this.values].filter((t): t is tf.Tensor => t !== null));
    this.keys = tf.keep(allK);
    this.values = tf.keep(allV);
    if (options.returnSelection) return result;
    tf.dispose([result.selection, result.scores]);
    return result.output;
  }

  /** Processes a long prompt in chunks of `chunkSize` positions (the official prompt processing). */
  attendPrompt(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: { chunkSize: number }): tf.Tensor4D {
    const fn = `${NAME}.attendPrompt`;
    assertKnownOptions(fn, options, ["chunkSize"]);
    assertInteger(fn, "chunkSize", options?.chunkSize, { min: 1 });
    const dims = checkAttentionInputs(fn, q, k, v);
    if (dims.seqQ !== dims.seqK) throw new ShapeError(`${fn}: q, k and v must cover the same positions, got q ${shapeString(q.shape)} and k ${shapeString(k.shape)}`);
    const outs: tf.Tensor[] = [];
    for (let t0 = 0; t0 < dims.seqQ; t0 += options.chunkSize) {
      const size = Math.min(options.chunkSize, dims.seqQ - t0);
      const part = (x: tf.Tensor) => x.slice([0, 0, t0, 0], [-1, -1, size, -1]);
      const [qc, kc, vc] = [part(q), part(k), part(v)];
      outs.push(this.attend(qc, kc, vc));
      tf.dispose([qc, kc, vc]);
    }
    const output = outs.length === 1 ? outs[0]! : tf.concat(outs, 2);
    if (outs.length > 1) tf.dispose(outs);
    return output as tf.Tensor4D;
  }

  /** Drops every cached position. */
  reset(): void {
    tf.dispose([this.keys, this.values].filter((t): t is tf.Tensor => t !== null));
    this.keys = null;
    this.values = null;
  }

  dispose(): void {
    this.reset();
  }
}
