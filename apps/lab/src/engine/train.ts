// The training loop of one run directory, fresh or resumed: Adam with warm-up + cosine rates, the task's
// loss plus the model's own losses (MoE load balancing), gradient clipping, TrainRows in metrics.jsonl,
// quick evaluations, atomic checkpoints, a final evaluation (eval.json) and the run's report.
import { writeFile } from "node:fs/promises";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { addAll, withSeededRandom } from "@attnkit/core";
import { defineModel } from "@attnkit/models";
import { INSPECT_FILE, METRICS_FILE, type EvalRow, type RunConfig, type TrainRow } from "../run-files";
import { createTask } from "../tasks";
import type { Task, TaskStream } from "../tasks/task";
import { writeFileAtomic } from "./atomic";
import { hasCheckpoint, loadCheckpoint, saveCheckpoint } from "./checkpoint";
import { Progress, type ProgressSink } from "./progress";
import { readEval, readConfig, appendMetrics, writeEval } from "./run-dir";
import { writeRunReport } from "./run-report";
import { learningRate } from "./schedule";

export interface StopSignal {
  /** Set (e.g. by Ctrl-C) to stop after the current step with a checkpoint. */
  requested: boolean;
}

export interface TrainControl {
  log: (line: string) => void;
  progress: ProgressSink;
  stop: StopSignal;
  /** Stop as if interrupted once this many steps are done (tests, and `--stop-after`). */
  stopAfter?: number;
}

export interface TrainResult {
  status: "finished" | "interrupted";
  step: number;
  evals: EvalRow[];
}

export const DEFAULT_CLIP_NORM = 1;

/** A training loss became NaN or infinite: the run stopped there (its last checkpoint is from before). */
export class DivergedError extends Error {}

export function logEvery(config: RunConfig): number {
  return config.train.logEvery ?? Math.max(1, Math.floor(config.train.steps / 500));
}

/** The model a fresh run starts from: a function of the spec and the run's seed only. */
export function buildModel(config: RunConfig): tf.LayersModel {
  return withSeededRandom(config.train.seed, () => defineModel(config.spec));
}

function clipByGlobalNorm(grads: tf.NamedTensorMap, maxNorm: number): tf.NamedTensorMap {
  if (maxNorm <= 0) return grads;
  return tf.tidy(() => {
    const norm = tf.sqrt(addAll(Object.values(grads).map((g) => tf.sum(tf.square(g)))));
    const scale = tf.minimum(1, tf.div(maxNorm, tf.maximum(norm, 1e-12)));
    const out: tf.NamedTensorMap = {};
    for (const [name, g] of Object.entries(grads)) out[name] = tf.keep(tf.mul(g, scale));
    return out;
  });
}

/** One optimisation step; returns the loss and the model's auxiliary loss (kept; the caller disposes). */
function step(model: tf.LayersModel, task: Task, optimizer: tf.AdamOptimizer, stream: TaskStream, clipNorm: number): { loss: tf.Scalar; aux: tf.Scalar | null; tokens: number } {
  const batch = stream.next();
  let aux: tf.Scalar | null = null;
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { value, grads } = optimizer.computeGradients(() => {
    const output = model.apply(batch.inputs, { training: true }) as tf.Tensor;
    const loss = task.loss(batch.labels, output);
    const extra = model.calculateLosses();
    if (extra.length === 0) return loss;
    aux = tf.keep(addAll(extra) as tf.Scalar);
    return tf.add(loss, aux) as tf.Scalar;
  }, vars);
  const clipped = clipByGlobalNorm(grads, clipNorm);
  // applyGradients reads plain gradient tensors by variable name; its type asks for variables.
  optimizer.applyGradients(clipped as Record<string, tf.Variable>);
  tf.dispose([batch.inputs, batch.labels]);
  tf.dispose(Object.values(grads));
  if (clipped !== grads) tf.dispose(Object.values(clipped));
  return { loss: value, aux, tokens: batch.tokens };
}

/**
 * Trains the run in `dir` (config.json written by startRun) to its step budget, resuming from its
 * checkpoint when there is one, then evaluates and writes the report. A finished run only re-evaluates
 * if eval.json is missing.
 */
export async function trainRun(dir: string, control: TrainControl): Promise<TrainResult> {
  const config = await readConfig(dir);
  const task = createTask(config.task.name, config.task.options);
  const done = await readEval(dir);
  if (done) return { status: "finished", step: config.train.steps, evals: done };

  let model: tf.LayersModel;
  let state: { step: number; position: unknown; elapsedMs: number };
  const optimizer = tf.train.adam(config.train.lr);
  if (hasCheckpoint(dir)) {
    const ckpt = await loadCheckpoint(dir);
    model = ckpt.model;
    state = ckpt.state;
    await ckpt.restoreOptimizer(optimizer);
    // Rows logged after the checkpoint are dropped: those steps are trained (and logged) again.
    await writeFileAtomic(path.join(dir, METRICS_FILE), ckpt.metrics);
    if (state.step < config.train.steps) control.log(`resuming ${config.name} at step ${state.step}/${config.train.steps}`);
  } else {
    model = buildModel(config);
    state = { step: 0, position: undefined, elapsedMs: 0 };
    await writeFile(path.join(dir, METRICS_FILE), "");
  }
  try {
    const { train } = config;
    const stream = task.stream({ batch: train.batch, seed: train.seed, ...(state.position !== undefined ? { position: state.position } : {}) });
    const every = logEvery(config);
    const progress = new Progress(control.progress, config.name, train.steps);
    const started = Date.now();
    const startStep = state.step;
    let windowStart = Date.now();
    let windowTokens = 0;
    const checkpoint = async (): Promise<void> => {
      await saveCheckpoint(dir, model, optimizer, { ...state, position: stream.position(), elapsedMs: state.elapsedMs + (Date.now() - started) });
    };
    while (state.step < train.steps) {
      const s = state.step;
      const lr = learningRate(train, s);
      (optimizer as unknown as { learningRate: number }).learningRate = lr;
      const { loss, aux, tokens } = step(model, task, optimizer, stream, train.clipNorm ?? DEFAULT_CLIP_NORM);
      windowTokens += tokens;
      state.step = s + 1;
      if (state.step % every === 0 || state.step === train.steps) {
        const [lossValue, auxValue] = await Promise.all([loss.data(), aux ? (aux as tf.Scalar).data() : null]);
        const now = Date.now();
        const row: TrainRow = {
          kind: "train",
          step: state.step,
          loss: lossValue[0]!,
          lr,
          tokensPerSec: (windowTokens * 1000) / Math.max(1, now - windowStart),
          elapsedMs: state.elapsedMs + (now - started),
          ...(auxValue ? { extra: { aux: auxValue[0]! } } : {}),
        };
        windowStart = now;
        windowTokens = 0;
        await appendMetrics(dir, [row]);
        progress.update({ step: row.step, loss: row.loss, tokensPerSec: row.tokensPerSec, elapsedMs: now - started, stepsDone: state.step - startStep });
        if (!Number.isFinite(row.loss)) {
          tf.dispose([loss, ...(aux ? [aux] : [])]);
          progress.done();
          throw new DivergedError(`${config.name}: the training loss became ${row.loss} at step ${row.step}; training stopped there (a checkpoint, if any, is from an earlier step). Try a lower --lr`);
        }
      }
      tf.dispose([loss, ...(aux ? [aux] : [])]);
      if (train.evalEvery > 0 && state.step % train.evalEvery === 0 && state.step < train.steps) {
        await appendMetrics(dir, await task.evaluate(model, { seed: train.seed, batch: train.batch, step: state.step, quick: true, dir }));
      }
      // Let pending events (Ctrl-C) run: steps without a logged row never wait on I/O otherwise.
      await new Promise((resolve) => setImmediate(resolve));
      const stopping = control.stop.requested || (control.stopAfter !== undefined && state.step >= control.stopAfter);
      if (stopping && state.step < train.steps) {
        progress.done();
        await checkpoint();
        return { status: "interrupted", step: state.step, evals: [] };
      }
      if (train.checkpointEvery > 0 && state.step % train.checkpointEvery === 0 && state.step < train.steps) await checkpoint();
    }
    progress.done();
    await checkpoint();
    const options = { seed: train.seed, batch: train.batch, step: state.step, dir, ...(config.evalLengths ? { lengths: config.evalLengths } : {}) };
    const evals = await task.evaluate(model, options);
    await appendMetrics(dir, evals);
    if (task.inspect) await writeFileAtomic(path.join(dir, INSPECT_FILE), JSON.stringify(await task.inspect(model, options)));
    await writeEval(dir, evals);
    await writeRunReport(dir);
    return { status: "finished", step: state.step, evals };
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}
