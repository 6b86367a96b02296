// Token generation for decoders. With a cache (the default where every layer has one) each new token
// runs through the layers once, carrying each block's own generation state: softmax attention keeps
// keys and values, the linear family keeps its recurrent state, MoBA block routing keeps keys and values.
// Otherwise (landmark, tempscale, similarity/attention-routed MoE) every step recomputes the whole
// forward pass. Both give the same tokens: the cache only avoids work.
import * as tf from "@tensorflow/tfjs";
import { OptionError, assertBoolean, assertInteger, assertKnownOptions, assertNumber } from "@attnkit/core";
import { layerNames, modelSpecOf } from "./build";
import { resolveLayers, type TextModelSpec } from "./spec";

export interface GenerateOptions {
  /** Tokens to generate (landmark tokens inserted by generation do not count). */
  maxTokens: number;
  /** Softmax temperature; 0 (the default) is greedy decoding. */
  temperature?: number;
  /** Sample only among the k most likely tokens (default: all). */
  topK?: number | null;
  /** Seed of the sampler (default 0). */
  seed?: number;
  /** Use the layers' generation caches where every layer has one (default true). */
  useCache?: boolean;
}

const NAME = "generate";

/** True when every layer of the model can carry a generation cache. */
export function supportsCache(spec: TextModelSpec): boolean {
  return resolveLayers(spec).every(({ attention, ffn }) => {
    if (attention.kind === "landmark" || attention.kind === "tempscale") return false;
    return ffn.kind === "mlp" || (ffn.router ?? "softmax") === "softmax";
  });
}

/** mulberry32: a small seeded generator of uniforms in [0, 1). */
function uniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Picks a token from one row of logits: argmax (ties to the lower id) or a tempered top-k draw. */
function pick(row: Float32Array | number[], temperature: number, topK: number | null, draw: () => number): number {
  const ids = Array.from(row, (_, i) => i).sort((a, b) => row[b]! - row[a]! || a - b);
  if (temperature === 0) return ids[0]!;
  const kept = ids.slice(0, topK ?? ids.length);
  const top = row[kept[0]!]!;
  const weights = kept.map((i) => Math.exp((row[i]! - top) / temperature));
  let r = draw() * weights.reduce((s, w) => s + w, 0);
  for (let j = 0; j < kept.length; j++) {
    r -= weights[j]!;
    if (r < 0) return kept[j]!;
  }
  return kept[kept.length - 1]!;
}

/** Every tensor inside a cache object (nested objects and arrays). */
function tensorsIn(value: unknown, out: tf.Tensor[] = []): tf.Tensor[] {
  if (value instanceof tf.Tensor) out.push(value);
  else if (Array.isArray(value)) value.forEach((v) => tensorsIn(v, out));
  else if (value !== null && typeof value === "object") Object.values(value).forEach((v) => tensorsIn(v, out));
  return out;
}

/** Disposes the tensors of `old` that `next` does not hold. */
function disposeReplaced(old: unknown, next: unknown): void {
  const keep = new Set(tensorsIn(next));
  tf.dispose(tensorsIn(old).filter((t) => !keep.has(t) && !t.isDisposed));
}

type CachedLayer = tf.layers.Layer & {
  callWithCache?: (x: tf.Tensor, cache: unknown) => { output: tf.Tensor; cache: unknown };
  step?: (x: tf.Tensor, cache: unknown) => { output: tf.Tensor; cache: unknown };
  initCache?: () => unknown;
  callAt?: (x: tf.Tensor, offset: number) => tf.Tensor;
};

/** Runs a decoder over new tokens, keeping every block's cache between calls. */
class DecoderStepper {
  private caches: unknown[];
  private position = 0;
  private readonly layers: CachedLayer[];

  constructor(
    private readonly model: tf.LayersModel,
    private readonly spec: TextModelSpec,
  ) {
    this.layers = Array.from({ length: spec.numLayers }, (_, i) => model.getLayer(layerNames.attn(i)) as CachedLayer);
    this.caches = this.layers.map((l) => (l.step && l.initCache ? l.initCache() : null));
  }

  private get(name: string): CachedLayer {
    return this.model.getLayer(name) as CachedLayer;
  }

  /** Logits `[b, vocab]` of the last of the new tokens `ids: [b, n]`. */
  step(ids: tf.Tensor): tf.Tensor {
    const s = this.spec;
    let h = tf.tidy(() => {
      const e = this.get(layerNames.embedding).apply(ids) as tf.Tensor;
      return s.position === "learned" ? this.get(layerNames.positions).callAt!(e, this.position) : e;
    });
    for (let i = 0; i < s.numLayers; i++) {
      const normed = this.get(layerNames.attnNorm(i)).apply(h) as tf.Tensor;
      const layer = this.layers[i]!;
      const old = this.caches[i];
      const r = layer.step ? layer.step(normed, old) : layer.callWithCache!(normed, old);
      if (!layer.step) disposeReplaced(old, r.cache); // block routing's step disposes its old cache itself
      this.caches[i] = r.cache;
      const next = tf.tidy(() => {
        const mid = h.add(r.output);
        const f = this.get(layerNames.ffn(i)).apply(this.get(layerNames.ffnNorm(i)).apply(mid)) as tf.Tensor;
        return mid.add(f);
      });
      tf.dispose([h, normed, r.output]);
      h = next;
    }
    this.position += ids.shape[1]!;
    const logits = tf.tidy(() => {
      const last = (this.get(layerNames.finalNorm).apply(h) as tf.Tensor).slice([0, ids.shape[1]! - 1, 0], [-1, 1, -1]);
      const head = (s.tieEmbeddings ?? true) ? this.get(layerNames.embedding) : this.get(layerNames.head);
      return (head.apply(last) as tf.Tensor).squeeze([1]);
    });
    h.dispose();
    return logits;
  }

  dispose(): void {
    tf.dispose(tensorsIn(this.caches));
    this.caches = [];
  }
}

/**
 * Generates `maxTokens` tokens after `prompt` (one sequence of ids, or a batch of equally long ones) with
 * a decoder from defineModel / loadModel. Returns the new tokens only. With a landmark spec that sets
 * `landmarkId`, landmark tokens are inserted where the layout needs them (they are not returned).
 */
export async function generate(model: tf.LayersModel, prompt: number[], options: GenerateOptions): Promise<number[]>;
export async function generate(model: tf.LayersModel, prompt: number[][], options: GenerateOptions): Promise<number[][]>;
export async function generate(model: tf.LayersModel, prompt: number[] | number[][], options: GenerateOptions): Promise<number[] | number[][]> {
  if (!(model instanceof tf.LayersModel)) throw new OptionError(`${NAME}: model must be a tf.LayersModel from defineModel or loadModel, got ${String(model)}`);
  const spec = modelSpecOf(model);
  if (!spec) throw new OptionError(`${NAME}: model carries no ModelSpec (build it with defineModel or load it with loadModel)`);
  if (spec.family !== "decoder") throw new OptionError(`${NAME}: model must be a decoder, got family '${spec.family}'`);
  if (options === null || typeof options !== "object") throw new OptionError(`${NAME}: options { maxTokens } are required`);
  assertKnownOptions(NAME, options, ["maxTokens", "temperature", "topK", "seed", "useCache"]);
  assertInteger(NAME, "maxTokens", options.maxTokens, { min: 0 });
  const temperature = options.temperature ?? 0;
  assertNumber(NAME, "temperature", temperature, { min: 0 });
  const topK = options.topK ?? null;
  if (topK !== null) assertInteger(NAME, "topK", topK, { min: 1 });
  const seed = options.seed ?? 0;
  assertInteger(NAME, "seed", seed);
  const useCache = (options.useCache ?? true) && supportsCache(spec);
  assertBoolean(NAME, "useCache", options.useCache ?? true);

  const single = !Array.isArray(prompt[0]);
  const rows = (single ? [prompt as number[]] : (prompt as number[][])).map((r) => (Array.isArray(r) ? [...r] : r));
  if (rows.length === 0 || !rows.every((r) => Array.isArray(r) && r.length === rows[0]!.length)) {
    throw new OptionError(`${NAME}: prompt must be a non-empty array of token ids, or a batch of equally long ones`);
  }
  if (rows[0]!.length === 0) throw new OptionError(`${NAME}: prompt must hold at least one token`);
  rows.forEach((r, b) =>
    r.forEach((t, j) => {
      if (!Number.isInteger(t) || t < 0 || t >= spec.vocabSize) throw new OptionError(`${NAME}: prompt${single ? "" : `[${b}]`}[${j}] must be a token id in [0, ${spec.vocabSize}), got ${String(t)}`);
    }),
  );
  const landmark = resolveLayers(spec).find((l) => l.attention.kind === "landmark")?.attention;
  const landmarkBlock = landmark?.kind === "landmark" && spec.landmarkId !== undefined ? landmark.blockSize : null;
  // Landmark models never use the cache (supportsCache), so inserted landmarks only extend `rows`.
  const isLandmarkSlot = (p: number) => landmarkBlock !== null && p % (landmarkBlock + 1) === landmarkBlock;

  const draw = uniform(seed);
  const out: number[][] = rows.map(() => []);
  const stepper = useCache ? new DecoderStepper(model, spec) : null;
  try {
    let fresh = rows.map((r) => [...r]);
    while (out[0]!.length < options.maxTokens) {
      const position = rows[0]!.length;
      let next: number[];
      if (isLandmarkSlot(position)) {
        next = rows.map(() => spec.landmarkId!);
      } else {
        const ids = tf.tensor2d(stepper ? fresh : rows, undefined, "int32");
        // The stepper's caches must outlive this step, so it manages its own memory (no tidy around it).
        const logits = stepper
          ? stepper.step(ids)
          : tf.tidy(() => (model.predict(ids) as tf.Tensor).slice([0, position - 1, 0], [-1, 1, -1]).squeeze([1]));
        ids.dispose();
        const values = (await logits.data()) as Float32Array;
        logits.dispose();
        const vocab = spec.vocabSize;
        next = rows.map((_, b) => pick(values.subarray(b * vocab, (b + 1) * vocab), temperature, topK, draw));
        next.forEach((t, b) => out[b]!.push(t));
      }
      rows.forEach((r, b) => r.push(next[b]!));
      fresh = rows.map((r) => [r[r.length - 1]!]);
    }
  } finally {
    stepper?.dispose();
  }
  return single ? out[0]! : out;
}
