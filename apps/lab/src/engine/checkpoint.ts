// Checkpoints: model weights (saveModel), Adam's state, the data stream position, the step and a copy of
// metrics.jsonl as it was at that step. Written into a temporary directory, fsynced, then swapped in by
// renames; a crash at any point leaves a complete checkpoint (the new one or the previous one).
import { existsSync } from "node:fs";
import { copyFile, mkdir, readFile, readdir, rename, rm } from "node:fs/promises";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { OptionError } from "@attnkit/core";
import { loadModel, nodeFileHandler, saveModel } from "@attnkit/models";
import { CHECKPOINT_DIR, METRICS_FILE } from "../run-files";
import { syncPath, writeFileAtomic } from "./atomic";

export interface CheckpointState {
  /** Steps completed. */
  step: number;
  /** The task stream's position for the next batch. */
  position: unknown;
  /** Training wall time so far, so tokens/s and elapsed time continue across a resume. */
  elapsedMs: number;
}

const STATE = "state.json";
const OPTIMIZER_JSON = "optimizer.json";
const OPTIMIZER_BIN = "optimizer.bin";
const TMP = ".checkpoint-tmp";
const OLD = ".checkpoint-old";

// Adam keeps β1^t and β2^t in variables that setWeights recomputes with pow(); pow differs from the
// running product in the last bit, so they are saved and restored as they were.
interface AdamInternals {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
}

/** Finishes an interrupted swap: the new checkpoint wins if it made it into place, else the old one is put back. */
async function recover(dir: string): Promise<void> {
  const current = path.join(dir, CHECKPOINT_DIR);
  const old = path.join(dir, OLD);
  if (!existsSync(old)) return;
  if (existsSync(current)) await rm(old, { recursive: true, force: true });
  else await rename(old, current);
}

export function hasCheckpoint(dir: string): boolean {
  return existsSync(path.join(dir, CHECKPOINT_DIR, STATE)) || existsSync(path.join(dir, OLD, STATE));
}

export async function saveCheckpoint(dir: string, model: tf.LayersModel, optimizer: tf.AdamOptimizer, state: CheckpointState): Promise<void> {
  await recover(dir);
  const tmp = path.join(dir, TMP);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  await saveModel(model, nodeFileHandler(tmp));
  const adam = optimizer as unknown as AdamInternals;
  const named = [...(await optimizer.getWeights()), { name: "accBeta1", tensor: adam.accBeta1 }, { name: "accBeta2", tensor: adam.accBeta2 }];
  const { data, specs } = await tf.io.encodeWeights(named);
  await writeFileAtomic(path.join(tmp, OPTIMIZER_BIN), new Uint8Array(data as ArrayBuffer));
  await writeFileAtomic(path.join(tmp, OPTIMIZER_JSON), JSON.stringify(specs));
  if (existsSync(path.join(dir, METRICS_FILE))) await copyFile(path.join(dir, METRICS_FILE), path.join(tmp, METRICS_FILE));
  // state.json last: a checkpoint directory without it is incomplete by definition.
  await writeFileAtomic(path.join(tmp, STATE), JSON.stringify(state));
  for (const f of await readdir(tmp)) await syncPath(path.join(tmp, f));
  await syncPath(tmp);
  const current = path.join(dir, CHECKPOINT_DIR);
  if (existsSync(current)) await rename(current, path.join(dir, OLD));
  await rename(tmp, current);
  await syncPath(dir);
  await rm(path.join(dir, OLD), { recursive: true, force: true });
}

export interface LoadedCheckpoint {
  model: tf.LayersModel;
  state: CheckpointState;
  /** metrics.jsonl as it was when the checkpoint was written ("" when there was none). */
  metrics: string;
  /** Restores Adam's moments, iteration count and β powers into a fresh optimizer. */
  restoreOptimizer(optimizer: tf.AdamOptimizer): Promise<void>;
}

export async function loadCheckpoint(dir: string): Promise<LoadedCheckpoint> {
  await recover(dir);
  const ckpt = path.join(dir, CHECKPOINT_DIR);
  if (!existsSync(path.join(ckpt, STATE))) throw new OptionError(`--run: '${dir}' has no checkpoint to resume from`);
  const state = JSON.parse(await readFile(path.join(ckpt, STATE), "utf8")) as CheckpointState;
  const model = await loadModel(nodeFileHandler(ckpt));
  const metricsFile = path.join(ckpt, METRICS_FILE);
  const metrics = existsSync(metricsFile) ? await readFile(metricsFile, "utf8") : "";
  const specs = JSON.parse(await readFile(path.join(ckpt, OPTIMIZER_JSON), "utf8")) as tf.io.WeightsManifestEntry[];
  const bin = await readFile(path.join(ckpt, OPTIMIZER_BIN));
  const restoreOptimizer = async (optimizer: tf.AdamOptimizer): Promise<void> => {
    const decoded = tf.io.decodeWeights(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) as ArrayBuffer, specs);
    const named = specs.map((s) => ({ name: s.name, tensor: decoded[s.name]! }));
    const betas = named.splice(-2, 2);
    // setWeights turns each tensor into a variable of its own; the decoded tensors stay alive as those.
    await optimizer.setWeights(named);
    const adam = optimizer as unknown as AdamInternals;
    adam.accBeta1.assign(betas[0]!.tensor);
    adam.accBeta2.assign(betas[1]!.tensor);
    tf.dispose(betas.map((b) => b.tensor));
  };
  return { model, state, metrics, restoreOptimizer };
}
