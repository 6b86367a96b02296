// Character-level language modelling on Moby-Dick (datasets' loadMobyDick: whole chapters held out for
// validation; a character vocabulary built on the training chapters). Evaluation: validation loss and
// bits per character; for MoE models also the expert load, routing entropy and the routing fluctuation
// between consecutive evaluations on a fixed validation batch (moby-dick-routing.ts).
import * as tf from "@tensorflow/tfjs";
import { OptionError, assertInteger, assertKnownOptions } from "@attnkit/core";
import { batches, charTokenizer, encodeDocuments, loadMobyDick, textWindows, type BatchPosition } from "@attnkit/datasets";
import { lmLoss, type ModelSpec } from "@attnkit/models";
import type { EvalRow } from "../run-files";
import { routingMetrics } from "./moby-dick-routing";
import type { Task, TaskEvalOptions, TaskStream } from "./task";

const NAME = "moby-dick";
// The stream and adaptSpec are synchronous, so the novel (a CommonJS package) is loaded at import.
const book = await loadMobyDick({ validationFraction: 0.1, seed: 0 });
const tokenizer = charTokenizer(book.train.map((d) => d.text));
const trainTokens = encodeDocuments(book.train, tokenizer);
const validationTokens = encodeDocuments(book.validation, tokenizer);

export interface MobyDickTaskOptions {
  /** Characters per training and validation window. Default 128. */
  seqLen?: number;
  /** Validation windows evaluated (non-overlapping, from the start of the held-out chapters); quick evaluations use a quarter. Default 128. */
  validationWindows?: number;
  /** Validation windows of the fixed batch whose routing is compared between evaluations. Default 8. */
  routingWindows?: number;
}

export function createMobyDickTask(options: Record<string, unknown> = {}): Task {
  assertKnownOptions(NAME, options, ["seqLen", "validationWindows", "routingWindows"]);
  const o = options as MobyDickTaskOptions;
  const seqLen = o.seqLen ?? 128;
  assertInteger(NAME, "seqLen", seqLen, { min: 2 });
  const train = textWindows(trainTokens, { seqLen });
  const validation = textWindows(validationTokens, { seqLen });
  const validationWindows = o.validationWindows ?? 128;
  assertInteger(NAME, "validationWindows", validationWindows, { min: 1, max: validation.inputs.size });
  const routingWindows = o.routingWindows ?? 8;
  assertInteger(NAME, "routingWindows", routingWindows, { min: 1, max: validation.inputs.size });

  /** Validation windows [from, from + n) as inputs and labels. */
  const windows = (from: number, n: number) => {
    const inputs = new Int32Array(n * seqLen);
    const labels = new Int32Array(n * seqLen);
    for (let i = 0; i < n; i++) {
      validation.inputs.write(from + i, inputs, i * seqLen);
      validation.labels.write(from + i, labels, i * seqLen);
    }
    return { inputs: tf.tensor2d(inputs, [n, seqLen], "int32"), labels: tf.tensor2d(labels, [n, seqLen], "int32") };
  };

  return {
    name: NAME,
    description:
      `Character-level Moby-Dick (${book.train.length} training, ${book.validation.length} held-out chapters; ${tokenizer.vocabSize} characters); ` +
      `next-character cross-entropy on ${seqLen}-character windows; validation loss on ${validationWindows} held-out windows.`,
    options: { seqLen, validationWindows, routingWindows },

    adaptSpec(spec: ModelSpec): ModelSpec {
      if (spec.family !== "decoder") throw new OptionError(`${NAME}: needs a decoder (next-character prediction), got family '${spec.family}'`);
      return { ...spec, vocabSize: tokenizer.vocabSize, seqLen };
    },

    stream({ batch, seed, position }): TaskStream {
      const it = batches(train, { batchSize: batch, seed, epochs: Infinity, dropRemainder: true, ...(position === undefined ? {} : { position: position as BatchPosition }) });
      return {
        next() {
          const b = it.next().value!;
          return { inputs: b.inputs!, labels: b.labels!, tokens: batch * seqLen };
        },
        position: () => it.position,
      };
    },

    loss: (labels, output) => lmLoss(labels, output),

    async evaluate(model: tf.LayersModel, opts: TaskEvalOptions): Promise<EvalRow[]> {
      const n = opts.quick ? Math.max(1, Math.floor(validationWindows / 4)) : validationWindows;
      let lossSum = 0;
      for (let from = 0; from < n; from += opts.batch) {
        const size = Math.min(opts.batch, n - from);
        const { inputs, labels } = windows(from, size);
        const loss = tf.tidy(() => lmLoss(labels, model.predict(inputs) as tf.Tensor));
        lossSum += (await loss.data())[0]! * size;
        tf.dispose([inputs, labels, loss]);
      }
      const loss = lossSum / n;
      const fixed = windows(0, routingWindows);
      try {
        const routing = await routingMetrics(model, fixed.inputs, { step: opts.step, dir: opts.dir });
        return [{ kind: "eval", step: opts.step, length: null, metrics: { loss, bitsPerChar: loss / Math.LN2, ...routing } }];
      } finally {
        tf.dispose([fixed.inputs, fixed.labels]);
      }
    },
  };
}
