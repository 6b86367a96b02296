// Multi-query associative recall (Zoology; research/hybrid.md §8): the model reads key–value pairs, then
// keys again, and must emit each key's value at the key's position. Loss: cross-entropy over the
// labelled positions (−100 elsewhere is ignored). Metric (Zoology's): per example, the fraction of
// labelled positions whose argmax is the value; then the mean over examples. Evaluated at the training
// length and at longer sequences with proportionally more pairs (Zoology's (64,4), (128,8), (256,16)).
import * as tf from "@tensorflow/tfjs";
import { assertInteger, assertKnownOptions, assertNumber, assertBoolean, OptionError } from "@attnkit/core";
import { batches, mqar, type BatchPosition } from "@attnkit/datasets";
import { lmLoss, type ModelSpec } from "@attnkit/models";
import type { EvalRow } from "../run-files";
import type { Task, TaskEvalOptions, TaskStream } from "./task";

export interface MqarTaskOptions {
  vocabSize: number;
  seqLen: number;
  numKvPairs: number;
  /** Training examples (cycled through in seeded epochs). */
  trainExamples: number;
  /** Test examples per evaluated length (a quarter of them for quick evaluations). */
  testExamples: number;
  /** Fill non-query positions with random tokens (the harder variant). */
  randomNonQueries: boolean;
  powerA: number;
}

const DEFAULTS: MqarTaskOptions = { vocabSize: 8192, seqLen: 64, numKvPairs: 4, trainExamples: 100_000, testExamples: 3_000, randomNonQueries: true, powerA: 0.01 };
const NAME = "mqar task";
// Test sets are a function of the task options only (not of the run's seed): every model of a
// comparison is scored on the same examples, which never overlap the seeded training stream.
const TEST_SEED = 0x7e57_0000;
/** Logit elements per evaluation batch (bounds memory at long lengths and large vocabularies). */
const EVAL_ELEMENTS = 1 << 23;

function checkOptions(raw: Record<string, unknown>): MqarTaskOptions {
  assertKnownOptions(NAME, raw, Object.keys(DEFAULTS));
  const o = { ...DEFAULTS, ...raw } as MqarTaskOptions;
  assertInteger(NAME, "seqLen", o.seqLen, { min: 4 });
  if (o.seqLen % 2 !== 0) throw new OptionError(`${NAME}: seqLen must be even, got ${o.seqLen}`);
  assertInteger(NAME, "vocabSize", o.vocabSize, { min: o.seqLen + 1 });
  assertInteger(NAME, "numKvPairs", o.numKvPairs, { min: 1, max: Math.floor(o.seqLen / 4) });
  assertInteger(NAME, "trainExamples", o.trainExamples, { min: 1 });
  assertInteger(NAME, "testExamples", o.testExamples, { min: 1 });
  assertBoolean(NAME, "randomNonQueries", o.randomNonQueries);
  assertNumber(NAME, "powerA", o.powerA, { min: 0, minExclusive: true });
  return o;
}

/** Pairs at length L: the training ratio of pairs to length, as Zoology's test grid keeps it. */
export function kvPairsAt(o: MqarTaskOptions, length: number): number {
  return Math.max(1, Math.round((o.numKvPairs * length) / o.seqLen));
}

async function accuracyAt(model: tf.LayersModel, o: MqarTaskOptions, length: number, examples: number): Promise<{ accuracy: number; loss: number }> {
  const data = mqar({ seed: TEST_SEED + length, vocabSize: o.vocabSize, numKvPairs: kvPairsAt(o, length), seqLen: length, numExamples: examples, powerA: o.powerA, randomNonQueries: o.randomNonQueries });
  const batch = Math.max(1, Math.floor(EVAL_ELEMENTS / (length * o.vocabSize)));
  let accSum = 0;
  let lossSum = 0;
  let labelled = 0;
  for (let start = 0; start < examples; start += batch) {
    const end = Math.min(examples, start + batch);
    const [perExample, loss, count] = tf.tidy(() => {
      const x = tf.tensor2d(data.inputs.slice(start, end), undefined, "int32");
      const y = tf.tensor2d(data.labels.slice(start, end), undefined, "int32");
      const logits = model.apply(x, { training: false }) as tf.Tensor;
      const mask = tf.cast(tf.greaterEqual(y, 0), "float32");
      const hit = tf.cast(tf.equal(tf.argMax(logits, -1), y), "float32").mul(mask);
      const n = mask.sum(1);
      return [hit.sum(1).div(tf.maximum(n, 1)), lmLoss(y, logits), mask.sum()];
    });
    const [a, l, c] = await Promise.all([perExample.data(), loss.data(), count.data()]);
    tf.dispose([perExample, loss, count]);
    for (const v of a) accSum += v;
    lossSum += l[0]! * c[0]!;
    labelled += c[0]!;
  }
  return { accuracy: accSum / examples, loss: lossSum / Math.max(1, labelled) };
}

export function createMqarTask(options: Record<string, unknown> = {}): Task {
  const o = checkOptions(options);
  let train: { seed: number; data: { inputs: number[][]; labels: number[][] } } | null = null;
  const defaultLengths = [1, 2, 4].map((m) => m * o.seqLen).filter((l) => l < o.vocabSize);
  return {
    name: "mqar",
    description: `Multi-query associative recall: ${o.numKvPairs} key–value pairs in ${o.seqLen} tokens, vocabulary ${o.vocabSize}; accuracy = share of queried keys whose value is predicted.`,
    options: { ...o },
    adaptSpec(spec: ModelSpec): ModelSpec {
      if (spec.family !== "decoder") throw new OptionError(`${NAME}: the model must be a decoder (token ids → next-token logits), got family '${spec.family}'`);
      return { ...spec, vocabSize: o.vocabSize, seqLen: Math.max(...defaultLengths, o.seqLen) };
    },
    stream({ batch, seed, position }): TaskStream {
      if (batch > o.trainExamples) throw new OptionError(`--batch: ${batch} is larger than the ${o.trainExamples} MQAR training examples`);
      // The training set depends on the run's seed; built once per seed and shared by the task's streams.
      if (train?.seed !== seed) {
        train = { seed, data: mqar({ seed, vocabSize: o.vocabSize, numKvPairs: o.numKvPairs, seqLen: o.seqLen, numExamples: o.trainExamples, powerA: o.powerA, randomNonQueries: o.randomNonQueries }) };
      }
      const it = batches(train.data, { batchSize: batch, seed, epochs: Infinity, dropRemainder: true, ...(position !== undefined ? { position: position as BatchPosition } : {}) });
      return {
        next() {
          const b = it.next().value!;
          return { inputs: b.inputs!, labels: b.labels!, tokens: b.inputs!.size };
        },
        position: () => it.position,
      };
    },
    loss: (labels, output) => lmLoss(labels, output),
    async evaluate(model, e: TaskEvalOptions): Promise<EvalRow[]> {
      const lengths = e.quick ? [o.seqLen] : (e.lengths ?? defaultLengths);
      const rows: EvalRow[] = [];
      for (const length of lengths) {
        if (length % 2 !== 0 || length >= o.vocabSize) throw new OptionError(`--lengths: each MQAR length must be even and below the vocabulary size ${o.vocabSize}, got ${length}`);
        const examples = e.quick ? Math.max(1, Math.floor(o.testExamples / 4)) : o.testExamples;
        const metrics = await accuracyAt(model, o, length, examples);
        rows.push({ kind: "eval", step: e.step, length, metrics });
      }
      return rows;
    },
  };
}
