// Save and load. The spec travels in the model's user-defined metadata; loading reads it, refuses a
// newer spec version, rebuilds the model with defineModel and copies the saved weights in. `file://`
// is handled here (TF.js keeps its file handler in tfjs-node, which attnkit does not use); every other
// URL (`indexeddb://`, `localstorage://`, `http(s)://`) and any tf.io.IOHandler goes to TF.js.
import * as tf from "@tensorflow/tfjs";
import { OptionError } from "@attnkit/core";
import { SPEC_METADATA_KEY, defineModel, modelSpecOf } from "./build";
import { SPEC_VERSION, parseModelSpec } from "./spec";

const FILE = "file://";

function joinWeights(data: tf.io.WeightData | undefined): ArrayBuffer {
  if (data === undefined) return new ArrayBuffer(0);
  return Array.isArray(data) ? tf.io.CompositeArrayBuffer.join(data) : data;
}

/**
 * A Node IO handler for a directory: `model.json` + `weights.bin`. Each file is written under a temporary
 * name and renamed into place (model.json last), so a reader never sees a half-written model.
 */
export function nodeFileHandler(directory: string): tf.io.IOHandler {
  const dir = directory.startsWith(FILE) ? directory.slice(FILE.length) : directory;
  if (dir.length === 0) throw new OptionError(`nodeFileHandler: directory must be a path, got '${directory}'`);
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      const fs = await import("node:fs/promises");
      const path = await import("node:path");
      await fs.mkdir(dir, { recursive: true });
      const weights = joinWeights(artifacts.weightData);
      const json = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format ?? "layers-model",
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: ["./weights.bin"], weights: artifacts.weightSpecs ?? [] }],
        ...(artifacts.userDefinedMetadata ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
        ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
      };
      const tag = `${process.pid}-${Date.now()}-${Math.floor(Math.random() * 1e9)}`;
      const write = async (name: string, data: string | Uint8Array) => {
        const tmp = path.join(dir, `.${name}.${tag}.tmp`);
        await fs.writeFile(tmp, data);
        await fs.rename(tmp, path.join(dir, name));
      };
      await write("weights.bin", new Uint8Array(weights));
      await write("model.json", JSON.stringify(json));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      const fs = await import("node:fs/promises");
      const path = await import("node:path");
      let text: string;
      try {
        text = await fs.readFile(path.join(dir, "model.json"), "utf8");
      } catch (e) {
        throw new OptionError(`loadModel: no model.json in '${dir}' (${(e as Error).message})`);
      }
      const json = JSON.parse(text) as tf.io.ModelJSON;
      const specs: tf.io.WeightsManifestEntry[] = [];
      const buffers: ArrayBuffer[] = [];
      for (const group of json.weightsManifest ?? []) {
        specs.push(...group.weights);
        for (const p of group.paths) {
          const b = await fs.readFile(path.join(dir, p));
          buffers.push(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
        }
      }
      return {
        modelTopology: json.modelTopology,
        ...(json.format !== undefined ? { format: json.format } : {}),
        ...(json.generatedBy !== undefined ? { generatedBy: json.generatedBy } : {}),
        ...(json.convertedBy != null ? { convertedBy: json.convertedBy } : {}),
        weightSpecs: specs,
        weightData: tf.io.CompositeArrayBuffer.join(buffers),
        ...(json.userDefinedMetadata ? { userDefinedMetadata: json.userDefinedMetadata } : {}),
      };
    },
  };
}

function handlerFor(fn: string, target: string | tf.io.IOHandler, kind: "save" | "load"): tf.io.IOHandler | string {
  if (typeof target !== "string") {
    if (target === null || typeof target !== "object" || typeof target[kind] !== "function") throw new OptionError(`${fn}: url must be a string or a tf.io.IOHandler with ${kind}(), got ${String(target)}`);
    return target;
  }
  if (target.startsWith(FILE)) return nodeFileHandler(target);
  return target;
}

/** Saves a model from defineModel (weights and spec) to a URL (`file://dir`, `indexeddb://name`, ...) or handler. */
export async function saveModel(model: tf.LayersModel, url: string | tf.io.IOHandler): Promise<tf.io.SaveResult> {
  if (!(model instanceof tf.LayersModel)) throw new OptionError(`saveModel: model must be a tf.LayersModel from defineModel, got ${String(model)}`);
  const spec = modelSpecOf(model);
  if (!spec) throw new OptionError("saveModel: model carries no ModelSpec (build it with defineModel)");
  model.setUserDefinedMetadata({ [SPEC_METADATA_KEY]: spec });
  return model.save(handlerFor("saveModel", url, "save") as tf.io.IOHandler);
}

/**
 * Loads a model saved by saveModel: reads the spec, refuses a newer spec version with a clear message,
 * rebuilds the model and sets the saved weights (matched by name and shape).
 */
export async function loadModel(url: string | tf.io.IOHandler): Promise<tf.LayersModel> {
  const target = handlerFor("loadModel", url, "load");
  let handler: tf.io.IOHandler;
  if (typeof target === "string") {
    const found = tf.io.getLoadHandlers(target);
    if (found.length === 0) throw new OptionError(`loadModel: no TF.js IO handler for '${target}' (use file://, indexeddb://, localstorage:// or http(s)://)`);
    handler = found[0]!;
  } else {
    handler = target;
  }
  const artifacts = await handler.load!();
  const raw = (artifacts.userDefinedMetadata as Record<string, unknown> | undefined)?.[SPEC_METADATA_KEY];
  if (raw === undefined) throw new OptionError("loadModel: the saved model carries no ModelSpec (save it with saveModel)");
  const version = (raw as { version?: unknown }).version;
  if (typeof version === "number" && version > SPEC_VERSION) {
    throw new OptionError(`loadModel: the saved spec has version ${version}, newer than this @attnkit/models understands (${SPEC_VERSION}); upgrade @attnkit/models to load it`);
  }
  const model = defineModel(parseModelSpec(raw));
  const saved = tf.io.decodeWeights(joinWeights(artifacts.weightData), artifacts.weightSpecs ?? []);
  try {
    const values = model.weights.map((w) => {
      const t = saved[w.originalName];
      if (!t) throw new OptionError(`loadModel: the saved weights lack '${w.originalName}'`);
      if (t.shape.join(",") !== w.shape.join(",")) throw new OptionError(`loadModel: weight '${w.originalName}' has shape [${t.shape.join(", ")}], the spec builds [${w.shape.join(", ")}]`);
      return t;
    });
    model.setWeights(values);
  } finally {
    tf.dispose(Object.values(saved));
  }
  return model;
}
