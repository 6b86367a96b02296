// ModelSpec: the plain-JSON description of a model, its zod schema, and the checks a schema alone cannot
// express (sizes that must divide, kinds a family does not support). Every failure is an OptionError
// that names the JSON path (`spec.layers[2].attention.topK`) and, for enums, the allowed values.
import { z } from "zod";
import { OptionError } from "@attnkit/core";

/** The spec format this build writes and reads; a saved spec with a larger version is refused. */
export const SPEC_VERSION = 1;

const int = (min: number) => z.number().int().min(min);
const positive = z.number().positive();

const softmaxAttention = z.strictObject({
  kind: z.literal("softmax"),
  /** Sliding window: key s is visible to query t iff t − window < s ≤ t (decoder only). */
  window: int(1).nullish(),
});
const linearAttention = z.strictObject({
  kind: z.literal("linear"),
  featureMap: z.enum(["elu1", "relu", "identity"]).optional(),
  chunkSize: int(1).optional(),
});
const lightningAttention = z.strictObject({
  kind: z.literal("lightning"),
  decayVariant: z.enum(["official", "paper", "fla"]).optional(),
  chunkSize: int(1).optional(),
});
const gatedDeltaNet = z.strictObject({
  kind: z.literal("gated-deltanet"),
  chunkSize: int(1).optional(),
  /** Taps of the short convolutions of q, k and v (default 4; 0: none). */
  convSize: int(0).optional(),
});
const stillHybrid = z.strictObject({
  kind: z.literal("still-hybrid"),
  chunkSize: int(1),
  topK: int(0).optional(),
  featureDim: int(1).optional(),
  saliency: z.enum(["paper", "code"]).optional(),
});
const natslHybrid = z.strictObject({
  kind: z.literal("natsl-hybrid"),
  blockSize: int(1),
});
const blockRouting = z.strictObject({
  kind: z.literal("block-routing"),
  blockSize: int(1),
  /** Blocks per query, counting the current one. */
  topK: int(1),
});
const landmark = z.strictObject({
  kind: z.literal("landmark"),
  /** Regular tokens per block; the training sequence holds a landmark after every block. */
  blockSize: int(1),
  topK: int(0).optional(),
});
const tempscale = z.strictObject({
  kind: z.literal("tempscale"),
  temperatureMode: z.enum(["fixed", "learned", "ssmax", "log-n"]).optional(),
  temperature: positive.optional(),
  trainLength: int(1).optional(),
});

/** Zoology's BaseConv: a short causal convolution gated by a projection (a sequence mixer, not attention). */
const baseConv = z.strictObject({
  kind: z.literal("base-conv"),
  /** Taps of the causal convolution (default 3). */
  kernelSize: int(1).optional(),
});

export const attentionSpecSchema = z.discriminatedUnion("kind", [
  softmaxAttention,
  linearAttention,
  lightningAttention,
  gatedDeltaNet,
  stillHybrid,
  natslHybrid,
  blockRouting,
  landmark,
  tempscale,
  baseConv,
]);

const mlpSpec = z.strictObject({
  kind: z.literal("mlp"),
  /** Hidden width (default 4·dModel). */
  hiddenUnits: int(1).optional(),
  activation: z.enum(["gelu", "relu", "silu"]).optional(),
});
const moeSpec = z.strictObject({
  kind: z.literal("moe"),
  hiddenUnits: int(1),
  numExperts: int(1).optional(),
  topK: int(1).optional(),
  router: z.enum(["softmax", "similarity", "attention"]).optional(),
  /** null = never drop a token (the default here, so a decoder's generation equals its forward pass). */
  capacityFactor: positive.nullish(),
  temperature: positive.optional(),
  /** Graph routers: mix the neighbours' probabilities (default) or their logits (a normalised product of their distributions). */
  mixing: z.enum(["probs", "logits"]).optional(),
  /** Graph routers: combine weights from the mixed distribution (default) or the token's own. */
  weightsFrom: z.enum(["mixed", "own"]).optional(),
  balanceLossWeight: z.number().min(0).optional(),
  zLossWeight: z.number().min(0).optional(),
});
export const ffnSpecSchema = z.discriminatedUnion("kind", [mlpSpec, moeSpec]);

const layerSpec = z.strictObject({
  attention: attentionSpecSchema.optional(),
  ffn: ffnSpecSchema.optional(),
});

export const textModelSpecSchema = z.strictObject({
  version: int(1),
  family: z.enum(["decoder", "encoder"]),
  name: z.string().optional(),
  vocabSize: int(2),
  /** Longest sequence (learned positions, landmark layout, block sizes). */
  seqLen: int(1),
  dModel: int(1),
  heads: int(1),
  numLayers: int(1),
  /** 'rope' (default) rotates q and k of softmax attention; 'learned' adds a position table; 'none'. */
  position: z.enum(["rope", "learned", "none"]).optional(),
  ropeBase: positive.optional(),
  /** Decoder: the LM head reuses the token embedding (default true). */
  tieEmbeddings: z.boolean().optional(),
  normEps: positive.optional(),
  /** Attention of every layer not set otherwise (default softmax). */
  attention: attentionSpecSchema.optional(),
  /** FFN of every layer not set otherwise (default mlp). */
  ffn: ffnSpecSchema.optional(),
  /** flash-linear-attention's hybrid plan: `attn.attention` (default softmax) at `attn.layers`, `attention` elsewhere. */
  attn: z
    .strictObject({
      layers: z.array(int(0)).min(1),
      attention: attentionSpecSchema.optional(),
    })
    .optional(),
  /** Per-layer overrides, one entry per layer (wins over `attn` and the defaults). */
  layers: z.array(layerSpec).optional(),
  /** Decoder: id of the landmark token that generation inserts after every landmark block. */
  landmarkId: int(0).optional(),
  /** Seed of the weight initialisers of the models package's own layers (default random). */
  seed: z.number().int().optional(),
});

const visionAttentionSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("softmax") }),
  z.strictObject({
    kind: z.literal("bi-level-routing"),
    /** Regions per side; must divide the stage's token grid. */
    grid: int(1),
    topK: int(1),
    /** LCE kernel side (odd, default 5; 0 = off). */
    lceKernel: int(0).optional(),
    routing: z.enum(["shared", "per-head"]).optional(),
  }),
]);

const visionStage = z.strictObject({
  dModel: int(1),
  heads: int(1),
  numLayers: int(1),
  /** Default softmax (ViT). */
  attention: visionAttentionSchema.optional(),
  /** MLP width (default 4·dModel). */
  hiddenUnits: int(1).optional(),
});

/** Image classifiers: patch embedding, stages of pre-norm blocks on the token grid, mean pool, linear head. */
export const visionModelSpecSchema = z.strictObject({
  version: int(1),
  family: z.literal("vision"),
  name: z.string().optional(),
  image: z.strictObject({ height: int(1), width: int(1), channels: int(1) }),
  patchSize: int(1),
  numClasses: int(2),
  /** Each stage after the first starts with a patch merging of mergeSize × mergeSize tokens (BiFormer: 2). */
  stages: z.array(visionStage).min(1),
  mergeSize: int(1).optional(),
  /** 'learned' (default) adds a position table to the patch embeddings; 'none' (BiFormer relies on LCE). */
  position: z.enum(["learned", "none"]).optional(),
  normEps: positive.optional(),
  seed: z.number().int().optional(),
});

export const modelSpecSchema = z.union([textModelSpecSchema, visionModelSpecSchema]);

export type AttentionSpec = z.infer<typeof attentionSpecSchema>;
export type FfnSpec = z.infer<typeof ffnSpecSchema>;
export type LayerSpec = z.infer<typeof layerSpec>;
export type TextModelSpec = z.infer<typeof textModelSpecSchema>;
export type VisionModelSpec = z.infer<typeof visionModelSpecSchema>;
export type VisionAttentionSpec = z.infer<typeof visionAttentionSchema>;
export type ModelSpec = TextModelSpec | VisionModelSpec;
export type AttentionKind = AttentionSpec["kind"];

/** JSON Schema of ModelSpec (draft 2020-12), for editors that autocomplete spec files. */
export const modelSpecJsonSchema = z.toJSONSchema(z.union([textModelSpecSchema, visionModelSpecSchema])) as Record<string, unknown>;

/** `["layers", 2, "attention"]` → `spec.layers[2].attention`. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((s, p) => (typeof p === "number" ? `${s}[${p}]` : `${s}.${String(p)}`), "spec");
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  try {
    const s = JSON.stringify(value);
    return s.length > 60 ? `${s.slice(0, 57)}...` : s;
  } catch {
    return String(value);
  }
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = root;
  for (const p of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[p as string];
  }
  return cur;
}

/** Options (in schema order) that a discriminated union accepts for `kind`. */
const KINDS: Record<string, readonly string[]> = {
  attention: attentionSpecSchema.options.map((o) => o.shape.kind.value),
  ffn: ffnSpecSchema.options.map((o) => o.shape.kind.value),
};
const VISION_KINDS = visionAttentionSchema.options.map((o) => o.shape.kind.value);

function issueMessage(issue: z.core.$ZodIssue, root: unknown): string {
  const where = formatPath(issue.path);
  const got = describe(valueAt(root, issue.path));
  switch (issue.code) {
    case "invalid_type":
      if (valueAt(root, issue.path) === undefined) return `${where} is required (${issue.expected === "int" ? "an integer" : `a ${issue.expected}`})`;
      return `${where} must be ${issue.expected === "int" ? "an integer" : `a ${issue.expected}`}, got ${got}`;
    case "invalid_value":
      return `${where} must be one of ${issue.values.map((v) => JSON.stringify(v)).join(" | ")}, got ${got}`;
    case "unrecognized_keys":
      return `${where} has unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `'${k}'`).join(", ")}`;
    case "too_small":
      return issue.origin === "array"
        ? `${where} must hold at least ${String(issue.minimum)} entries, got ${got}`
        : `${where} must be ${issue.inclusive === false ? ">" : "≥"} ${String(issue.minimum)}, got ${got}`;
    case "too_big":
      return `${where} must be ${issue.inclusive === false ? "<" : "≤"} ${String(issue.maximum)}, got ${got}`;
    case "invalid_union": {
      // zod reports a bad discriminator at `<group>.kind`.
      const path = issue.path[issue.path.length - 1] === "kind" ? issue.path.slice(0, -1) : issue.path;
      const group = String(path[path.length - 1] ?? "");
      const vision = (root as { family?: unknown }).family === "vision";
      const allowed = vision ? VISION_KINDS : (KINDS[group] ?? [...KINDS.attention!, ...KINDS.ffn!]);
      return `${formatPath([...path, "kind"])} must be one of ${allowed.map((k) => `'${k}'`).join(" | ")}, got ${describe(valueAt(root, [...path, "kind"]))}`;
    }
    default:
      return `${where}: ${issue.message}`;
  }
}

function fail(path: readonly PropertyKey[], what: string): never {
  throw new OptionError(`defineModel: ${formatPath(path)} ${what}`);
}

const ENCODER_KINDS: readonly AttentionKind[] = ["softmax", "tempscale"];

/** The attention and FFN of every layer after applying the defaults, the `attn` plan and overrides. */
export interface ResolvedLayer {
  attention: AttentionSpec;
  ffn: FfnSpec;
  /** JSON path of where this layer's attention / ffn came from (for messages). */
  attentionPath: PropertyKey[];
  ffnPath: PropertyKey[];
}

export function resolveLayers(spec: TextModelSpec): ResolvedLayer[] {
  const out: ResolvedLayer[] = [];
  const plan = new Set(spec.attn?.layers ?? []);
  for (let i = 0; i < spec.numLayers; i++) {
    const own = spec.layers?.[i];
    let attention: AttentionSpec = spec.attention ?? { kind: "softmax" };
    let attentionPath: PropertyKey[] = spec.attention ? ["attention"] : [];
    if (plan.has(i)) {
      attention = spec.attn!.attention ?? { kind: "softmax" };
      attentionPath = spec.attn!.attention ? ["attn", "attention"] : ["attn"];
    }
    if (own?.attention) {
      attention = own.attention;
      attentionPath = ["layers", i, "attention"];
    }
    const ffn: FfnSpec = own?.ffn ?? spec.ffn ?? { kind: "mlp" };
    const ffnPath: PropertyKey[] = own?.ffn ? ["layers", i, "ffn"] : spec.ffn ? ["ffn"] : [];
    out.push({ attention, ffn, attentionPath, ffnPath });
  }
  return out;
}

/** Checks what the schema cannot: sizes that must divide, kinds per family, plan indices. */
function checkSizes(spec: TextModelSpec): void {
  if (spec.dModel % spec.heads !== 0) fail(["dModel"], `must be divisible by spec.heads (${spec.heads}), got ${spec.dModel}`);
  const headDim = spec.dModel / spec.heads;
  const position = spec.position ?? "rope";
  if (position === "rope" && headDim % 2 !== 0) fail(["position"], `'rope' needs an even head size dModel / heads, got ${headDim}`);
  if (spec.layers && spec.layers.length !== spec.numLayers) fail(["layers"], `must hold spec.numLayers (${spec.numLayers}) entries, got ${spec.layers.length}`);
  spec.attn?.layers.forEach((l, j) => {
    if (l >= spec.numLayers) fail(["attn", "layers", j], `must be a layer index below spec.numLayers (${spec.numLayers}), got ${l}`);
  });
  if (spec.family === "encoder" && spec.tieEmbeddings !== undefined) fail(["tieEmbeddings"], "applies to the decoder family only (an encoder has no LM head)");
  const layers = resolveLayers(spec);
  layers.forEach(({ attention: a, ffn: f, attentionPath, ffnPath }, i) => {
    const at = (key: string) => [...attentionPath, key];
    if (attentionPath.length === 0 && a.kind !== "softmax") fail(["attention"], "internal: default attention must be softmax");
    if (spec.family === "encoder" && !ENCODER_KINDS.includes(a.kind)) {
      fail(at("kind"), `must be one of ${ENCODER_KINDS.map((k) => `'${k}'`).join(" | ")} in the encoder family (bidirectional), got '${a.kind}' (layer ${i})`);
    }
    if (a.kind === "softmax" && a.window != null && spec.family === "encoder") fail(at("window"), "applies to the decoder family only (a causal window)");
    if (a.kind === "still-hybrid") {
      if (spec.seqLen % a.chunkSize !== 0) fail(at("chunkSize"), `must divide spec.seqLen (${spec.seqLen}), got ${a.chunkSize}`);
      if (a.topK !== undefined && a.topK > a.chunkSize) fail(at("topK"), `must be ≤ chunkSize (${a.chunkSize}), got ${a.topK}`);
    }
    if (a.kind === "natsl-hybrid" && spec.seqLen % a.blockSize !== 0) fail(at("blockSize"), `must divide spec.seqLen (${spec.seqLen}), got ${a.blockSize}`);
    if (a.kind === "block-routing") {
      if (spec.seqLen % a.blockSize !== 0) fail(at("blockSize"), `must divide spec.seqLen (${spec.seqLen}), got ${a.blockSize}`);
      const blocks = spec.seqLen / a.blockSize;
      if (a.topK > blocks) fail(at("topK"), `must be ≤ the number of blocks spec.seqLen / blockSize (${blocks}), got ${a.topK}`);
    }
    if (a.kind === "landmark") {
      if (spec.seqLen % (a.blockSize + 1) !== 0) fail(at("blockSize"), `+ 1 (a block and its landmark) must divide spec.seqLen (${spec.seqLen}), got blockSize ${a.blockSize}`);
      if (position === "learned") fail(["position"], "must be 'rope' or 'none' with landmark attention (the landmark layer rotates q and k itself)");
    }
    if (a.kind === "tempscale" && a.temperatureMode === "log-n" && a.trainLength === undefined) fail(at("trainLength"), "is required when temperatureMode is 'log-n'");
    if (f.kind === "moe") {
      const fp = (key: string) => [...ffnPath, key];
      if (f.topK !== undefined && f.topK > (f.numExperts ?? 8)) fail(fp("topK"), `must be ≤ numExperts (${f.numExperts ?? 8}), got ${f.topK}`);
      for (const key of ["mixing", "weightsFrom"] as const) {
        if (f[key] !== undefined && (f.router ?? "softmax") === "softmax") fail(fp(key), `applies to the 'similarity' and 'attention' routers only, got router 'softmax'`);
      }
      if (f.router === "attention" && a.kind !== "softmax") {
        fail(fp("router"), `'attention' needs softmax attention in the same layer (it routes with its attention matrix), got attention kind '${a.kind}' (layer ${i})`);
      }
    }
  });
}

/**
 * Validates `spec` and returns it typed. Throws OptionError naming the JSON path; a `version` newer
 * than this build's SPEC_VERSION gets its own message (upgrade @attnkit/models).
 */
export function parseModelSpec(spec: unknown): ModelSpec {
  if (spec === null || typeof spec !== "object" || Array.isArray(spec)) throw new OptionError(`defineModel: spec must be a ModelSpec object, got ${describe(spec)}`);
  const version = (spec as { version?: unknown }).version;
  if (typeof version === "number" && Number.isInteger(version) && version > SPEC_VERSION) {
    throw new OptionError(`defineModel: spec.version is ${version}, newer than this @attnkit/models understands (${SPEC_VERSION}); upgrade @attnkit/models to load it`);
  }
  const family = (spec as { family?: unknown }).family;
  if (family !== "decoder" && family !== "encoder" && family !== "vision") {
    throw new OptionError(`defineModel: ${formatPath(["family"])} ${family === undefined ? "is required, one of" : "must be one of"} "decoder" | "encoder" | "vision"${family === undefined ? "" : `, got ${describe(family)}`}`);
  }
  const r = family === "vision" ? visionModelSpecSchema.safeParse(spec) : textModelSpecSchema.safeParse(spec);
  if (!r.success) {
    const [first, ...rest] = r.error.issues;
    const more = rest.length > 0 ? ` (and ${rest.length} more problem${rest.length > 1 ? "s" : ""}: ${rest.map((i) => formatPath(i.path)).join(", ")})` : "";
    throw new OptionError(`defineModel: ${issueMessage(first!, spec)}${more}`);
  }
  if (r.data.family === "vision") checkVision(r.data);
  else checkSizes(r.data);
  return r.data;
}

/** Token grid side lengths of each vision stage. */
export function stageGrids(spec: VisionModelSpec): { height: number; width: number }[] {
  const merge = spec.mergeSize ?? 2;
  let height = spec.image.height / spec.patchSize;
  let width = spec.image.width / spec.patchSize;
  return spec.stages.map((_, i) => {
    if (i > 0) {
      height /= merge;
      width /= merge;
    }
    return { height, width };
  });
}

function checkVision(spec: VisionModelSpec): void {
  const { height, width } = spec.image;
  if (height % spec.patchSize !== 0 || width % spec.patchSize !== 0) fail(["patchSize"], `must divide spec.image.height (${height}) and spec.image.width (${width}), got ${spec.patchSize}`);
  const grids = stageGrids(spec);
  spec.stages.forEach((stage, i) => {
    const g = grids[i]!;
    if (!Number.isInteger(g.height) || !Number.isInteger(g.width)) {
      fail(["mergeSize"], `must divide the token grid before stage ${i} (${grids[i - 1]!.height} × ${grids[i - 1]!.width}), got ${spec.mergeSize ?? 2}`);
    }
    if (stage.dModel % stage.heads !== 0) fail(["stages", i, "dModel"], `must be divisible by spec.stages[${i}].heads (${stage.heads}), got ${stage.dModel}`);
    const a = stage.attention;
    if (a?.kind === "bi-level-routing") {
      if (g.height % a.grid !== 0 || g.width % a.grid !== 0) fail(["stages", i, "attention", "grid"], `must divide the stage's token grid (${g.height} × ${g.width}), got ${a.grid}`);
      if (a.topK > a.grid * a.grid) fail(["stages", i, "attention", "topK"], `must be ≤ grid² (${a.grid * a.grid}), got ${a.topK}`);
      if ((a.lceKernel ?? 5) > 0 && (a.lceKernel ?? 5) % 2 === 0) fail(["stages", i, "attention", "lceKernel"], `must be odd or 0, got ${a.lceKernel}`);
    }
  });
}
