// Spec validation: malformed specs name the JSON path and what is allowed; presets and the hybrid plan
// resolve as documented; the JSON Schema export describes the same format. Pure host code: no backend.
import { describe, expect, it } from "vitest";
import { OptionError } from "@attnkit/core";
import { SPEC_VERSION, modelSpecJsonSchema, parseModelSpec, preset, presetNames, presets, resolveLayers, type TextModelSpec, type VisionModelSpec } from "../src/index";

const base: TextModelSpec = { version: 1, family: "decoder", vocabSize: 64, seqLen: 32, dModel: 32, heads: 4, numLayers: 3 };

function errorOf(spec: unknown): string {
  try {
    parseModelSpec(spec);
  } catch (e) {
    expect(e).toBeInstanceOf(OptionError);
    return (e as Error).message;
  }
  throw new Error("spec was accepted");
}

const vision: VisionModelSpec = { version: 1, family: "vision", image: { height: 28, width: 28, channels: 1 }, patchSize: 4, numClasses: 10, stages: [{ dModel: 8, heads: 2, numLayers: 1 }] };

describe("ModelSpec validation", () => {
  const cases: [string, unknown, RegExp][] = [
    ["per-layer topK below 1", { ...base, layers: [{}, {}, { attention: { kind: "block-routing", blockSize: 8, topK: 0 } }] }, /spec\.layers\[2\]\.attention\.topK must be ≥ 1, got 0/],
    ["unknown attention kind", { ...base, attention: { kind: "flash" } }, /spec\.attention\.kind must be one of 'softmax' \| 'linear' .*'tempscale' \| 'base-conv', got "flash"/],
    ["unknown ffn kind", { ...base, ffn: { kind: "glu" } }, /spec\.ffn\.kind must be one of 'mlp' \| 'moe', got "glu"/],
    ["unknown family", { ...base, family: "seq2seq" }, /spec\.family must be one of "decoder" \| "encoder" \| "vision", got "seq2seq"/],
    ["unknown top-level key", { ...base, dropout: 0.1 }, /spec has unknown key 'dropout'/],
    ["unknown nested key", { ...base, attention: { kind: "linear", chunk: 4 } }, /spec\.attention has unknown key 'chunk'/],
    ["wrong type", { ...base, vocabSize: "256" }, /spec\.vocabSize must be a number, got "256"/],
    ["non-integer", { ...base, heads: 2.5 }, /spec\.heads must be an integer, got 2\.5/],
    ["missing field", { ...base, ffn: { kind: "moe" } }, /spec\.ffn\.hiddenUnits is required/],
    ["missing version", { ...base, version: undefined }, /spec\.version is required/],
    ["dModel not divisible by heads", { ...base, dModel: 30 }, /spec\.dModel must be divisible by spec\.heads \(4\), got 30/],
    ["odd head size with rope", { ...base, dModel: 36, heads: 4 }, /spec\.position 'rope' needs an even head size/],
    ["seqLen not a multiple of the routing block", { ...base, attention: { kind: "block-routing", blockSize: 5, topK: 2 } }, /spec\.attention\.blockSize must divide spec\.seqLen \(32\), got 5/],
    ["routing topK above the block count", { ...base, attention: { kind: "block-routing", blockSize: 16, topK: 3 } }, /spec\.attention\.topK must be ≤ the number of blocks .* \(2\), got 3/],
    ["landmark layout", { ...base, attention: { kind: "landmark", blockSize: 8 } }, /spec\.attention\.blockSize \+ 1 .* must divide spec\.seqLen \(32\), got blockSize 8/],
    ["STILL chunk", { ...base, layers: [{}, { attention: { kind: "still-hybrid", chunkSize: 5 } }, {}] }, /spec\.layers\[1\]\.attention\.chunkSize must divide spec\.seqLen/],
    ["NAtS-L block", { ...base, attention: { kind: "natsl-hybrid", blockSize: 12 } }, /spec\.attention\.blockSize must divide spec\.seqLen/],
    ["per-layer list length", { ...base, layers: [{}, {}] }, /spec\.layers must hold spec\.numLayers \(3\) entries, got 2/],
    ["plan index out of range", { ...base, attn: { layers: [0, 3] } }, /spec\.attn\.layers\[1\] must be a layer index below spec\.numLayers \(3\), got 3/],
    ["enum option", { ...base, attention: { kind: "linear", featureMap: "softplus" } }, /spec\.attention\.featureMap must be one of "elu1" \| "relu" \| "identity", got "softplus"/],
    ["encoder with a causal-only kind", { ...base, family: "encoder", attention: { kind: "gated-deltanet" } }, /spec\.attention\.kind must be one of 'softmax' \| 'tempscale' in the encoder family/],
    ["encoder with the causal BaseConv", { ...base, family: "encoder", layers: [{ attention: { kind: "base-conv" } }, {}, {}] }, /spec\.layers\[0\]\.attention\.kind must be one of 'softmax' \| 'tempscale' in the encoder family/],
    ["BaseConv without taps", { ...base, attention: { kind: "base-conv", kernelSize: 0 } }, /spec\.attention\.kernelSize must be ≥ 1, got 0/],
    ["attention router without softmax", { ...base, attention: { kind: "linear" }, ffn: { kind: "moe", hiddenUnits: 8, router: "attention" } }, /spec\.ffn\.router 'attention' needs softmax attention/],
    ["graph-router option on the softmax router", { ...base, ffn: { kind: "moe", hiddenUnits: 8, mixing: "logits" } }, /spec\.ffn\.mixing applies to the 'similarity' and 'attention' routers only, got router 'softmax'/],
    ["graph-router mixing value", { ...base, ffn: { kind: "moe", hiddenUnits: 8, router: "similarity", mixing: "probabilities" } }, /spec\.ffn\.mixing must be one of "probs" \| "logits"/],
    ["MoE topK above experts", { ...base, ffn: { kind: "moe", hiddenUnits: 8, numExperts: 2, topK: 3 } }, /spec\.ffn\.topK must be ≤ numExperts \(2\), got 3/],
    ["log-n without trainLength", { ...base, attention: { kind: "tempscale", temperatureMode: "log-n" } }, /spec\.attention\.trainLength is required/],
    ["vision: patch does not divide the image", { ...vision, patchSize: 5 }, /spec\.patchSize must divide spec\.image\.height \(28\) and spec\.image\.width \(28\), got 5/],
    ["vision: BRA grid", { ...vision, stages: [{ dModel: 8, heads: 2, numLayers: 1, attention: { kind: "bi-level-routing", grid: 4, topK: 2 } }] }, /spec\.stages\[0\]\.attention\.grid must divide the stage's token grid \(7 × 7\), got 4/],
    ["vision: unknown stage attention", { ...vision, stages: [{ dModel: 8, heads: 2, numLayers: 1, attention: { kind: "linear" } }] }, /spec\.stages\[0\]\.attention\.kind must be one of 'softmax' \| 'bi-level-routing', got "linear"/],
    ["vision: merge does not divide the grid", { ...vision, stages: [{ dModel: 8, heads: 2, numLayers: 1 }, { dModel: 8, heads: 2, numLayers: 1 }] }, /spec\.mergeSize must divide the token grid before stage 1 \(7 × 7\), got 2/],
    ["vision: text field", { ...vision, vocabSize: 10 }, /spec has unknown key 'vocabSize'/],
    ["not an object", 42, /spec must be a ModelSpec object, got 42/],
  ];
  for (const [name, spec, message] of cases) {
    it(`rejects: ${name}`, () => {
      expect(errorOf(spec)).toMatch(message);
    });
  }

  it("names the function and counts further problems", () => {
    expect(errorOf({ ...base, vocabSize: -1, heads: 0 })).toMatch(/^defineModel: spec\.vocabSize .* \(and 1 more problem: spec\.heads\)$/);
  });

  it("refuses a newer version with a clear message", () => {
    expect(errorOf({ ...base, version: SPEC_VERSION + 1 })).toMatch(/spec\.version is 2, newer than this @attnkit\/models understands \(1\); upgrade/);
  });

  it("accepts every preset and keeps presets frozen", () => {
    for (const name of presetNames) expect(() => parseModelSpec(presets[name])).not.toThrow();
    expect(Object.isFrozen(presets.dense)).toBe(true);
    const copy = preset("dense", { numLayers: 2 });
    expect(copy.numLayers).toBe(2);
    expect(presets.dense.numLayers).toBe(4);
    expect(() => preset("nope" as "dense")).toThrow(/preset: name must be one of 'dense'/);
  });
});

describe("layer plan", () => {
  it("applies flash-linear-attention's attn plan, then per-layer overrides", () => {
    const spec: TextModelSpec = {
      ...base,
      numLayers: 4,
      attention: { kind: "gated-deltanet" },
      attn: { layers: [1, 3] },
      layers: [{}, {}, {}, { attention: { kind: "linear" }, ffn: { kind: "moe", hiddenUnits: 8 } }],
    };
    const plan = resolveLayers(parseModelSpec(spec) as TextModelSpec);
    expect(plan.map((l) => l.attention.kind)).toEqual(["gated-deltanet", "softmax", "gated-deltanet", "linear"]);
    expect(plan.map((l) => l.ffn.kind)).toEqual(["mlp", "mlp", "mlp", "moe"]);
  });

  it("defaults to softmax attention and an MLP", () => {
    const plan = resolveLayers(parseModelSpec(base) as TextModelSpec);
    expect(plan.every((l) => l.attention.kind === "softmax" && l.ffn.kind === "mlp")).toBe(true);
  });
});

describe("modelSpecJsonSchema", () => {
  it("is a JSON Schema of the same format", () => {
    const schema = modelSpecJsonSchema as { anyOf: { type: string; required: string[]; additionalProperties: boolean; properties: Record<string, { enum?: string[]; const?: string }> }[] };
    expect(schema.anyOf).toHaveLength(2);
    const [text, image] = schema.anyOf as [(typeof schema.anyOf)[0], (typeof schema.anyOf)[0]];
    expect(text.type).toBe("object");
    expect(text.required).toEqual(expect.arrayContaining(["version", "family", "vocabSize", "seqLen", "dModel", "heads", "numLayers"]));
    expect(text.additionalProperties).toBe(false);
    expect(text.properties.family!.enum).toEqual(["decoder", "encoder"]);
    expect(image.required).toEqual(expect.arrayContaining(["version", "family", "image", "patchSize", "numClasses", "stages"]));
    const json = JSON.stringify(schema);
    for (const kind of ["gated-deltanet", "block-routing", "landmark", "tempscale", "moe", "bi-level-routing"]) expect(json).toContain(`"${kind}"`);
  });
});
