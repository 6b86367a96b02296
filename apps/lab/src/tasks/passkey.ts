// Passkey retrieval (Landmark Attention, research/landmark-tempscale-moe.md §1.5) at word level: filler
// split at a random depth around the key line, then the question; the model must continue with the
// 5-digit key. Training prompts have `trainLength` regular tokens; evaluation goes to longer lengths.
// With task option `blockSize` the sequences carry a landmark after every block (landmark models), and
// evaluation runs the landmark layers on top-k block retrieval from memory (passkey-eval.ts).
import * as tf from "@tensorflow/tfjs";
import { OptionError, assertInteger, assertKnownOptions } from "@attnkit/core";
import { mulberry32, Rng } from "@attnkit/datasets";
import { insertLandmarks, passkeyPrompt, passkeyVocabulary, PASSKEY_WORDS } from "@attnkit/landmark";
import { lmLoss, modelSpecOf, resolveLayers, type ModelSpec } from "@attnkit/models";
import type { EvalRow } from "../run-files";
import { evaluateDense, evaluateRetrieval, type PasskeySet } from "./passkey-eval";
import type { Task, TaskBatch, TaskEvalOptions, TaskStream } from "./task";

const NAME = "passkey";
const IGNORE = -100;
const LANDMARK_ID = passkeyVocabulary().landmark;
/** Keys are 5-digit numbers, so every prompt of a length has the same number of tokens. */
const KEY_DIGITS = 5;

export interface PasskeyTaskOptions {
  /** Regular tokens (prompt + answer) per training sequence. Default 120. */
  trainLength?: number;
  /** Landmark block size; null (default) for models without landmark tokens. */
  blockSize?: number | null;
  /** Retrieval topK values evaluated for landmark models. Default [1, 2, 4]. */
  topKs?: number[];
  /** Prompts per evaluated length (quick evaluations use a quarter, at least 4). Default 32. */
  evalExamples?: number;
}

/** Regular tokens of a prompt + answer without filler. */
const BASE_LENGTH = passkeyPrompt({ garbageTokens: 0, seed: 0, passkey: 10 ** (KEY_DIGITS - 1) }).tokenIds.length + KEY_DIGITS;

/** Seed of example `index` of stream `which` (0 = training, 1 + i = evaluation length i). */
function exampleSeed(seed: number, which: number, index: number): number {
  return mulberry32((seed + Math.imul(which + 1, 0x9e3779b1) + Math.imul(index, 0x85ebca6b)) | 0).uint32() | 0;
}

/** Prompts of `length` regular tokens: ids with landmarks when `blockSize` is set, next-token labels on the targets. */
export function passkeyExamples(length: number, blockSize: number | null, seeds: number[]): PasskeySet {
  const garbage = length - BASE_LENGTH;
  const rows = seeds.map((s) => {
    const key = 10 ** (KEY_DIGITS - 1) + new Rng(s).randint(9 * 10 ** (KEY_DIGITS - 1));
    const p = passkeyPrompt({ garbageTokens: garbage, seed: s, passkey: key });
    const plain = [...p.tokenIds, ...p.answer];
    // Targets: the second copy of the key inside the key line (a short-range copy) and the answer.
    const second = p.keyEnd - passkeyVocabulary().keyOutro.length - KEY_DIGITS;
    const targets = new Set<number>([...Array.from({ length: KEY_DIGITS }, (_, i) => second + i), ...Array.from({ length: KEY_DIGITS }, (_, i) => p.tokenIds.length + i)]);
    const keyBlocks = blockSize === null ? [] : [...new Set(Array.from({ length: p.keyEnd - p.keyStart }, (_, i) => Math.floor((p.keyStart + i) / blockSize)))];
    return { plain, targets, keyBlocks };
  });
  // Regular token t sits at t + ⌊t / blockSize⌋ once landmarks are in.
  const at = (t: number) => (blockSize === null ? t : t + Math.floor(t / blockSize));
  const ids = blockSize === null ? rows.map((r) => r.plain) : insertLandmarks(rows.map((r) => r.plain), { blockSize, landmarkId: LANDMARK_ID }).tokenIds;
  const labels = ids.map((row, b) => {
    const out = new Array<number>(row.length).fill(IGNORE);
    // Position p predicts token p + 1; a target after a landmark is predicted from the landmark.
    for (const t of rows[b]!.targets) out[at(t) - 1] = row[at(t)]!;
    return out;
  });
  return { ids, labels, keyBlocks: rows.map((r) => r.keyBlocks), answerPositions: Array.from({ length: KEY_DIGITS }, (_, i) => at(length - KEY_DIGITS + i)) };
}

export function createPasskeyTask(options: Record<string, unknown> = {}): Task {
  assertKnownOptions(NAME, options, ["trainLength", "blockSize", "topKs", "evalExamples"]);
  const o = options as PasskeyTaskOptions;
  const trainLength = o.trainLength ?? 120;
  assertInteger(NAME, "trainLength", trainLength, { min: BASE_LENGTH + 1 });
  const blockSize = o.blockSize ?? null;
  if (blockSize !== null) {
    assertInteger(NAME, "blockSize", blockSize, { min: 1 });
    if (trainLength % blockSize !== 0) throw new OptionError(`${NAME}: trainLength must be a multiple of blockSize (${blockSize}), got ${trainLength}`);
  }
  const topKs = o.topKs ?? [1, 2, 4];
  if (!Array.isArray(topKs) || topKs.length === 0) throw new OptionError(`${NAME}: topKs must be a non-empty array of integers ≥ 1, got ${JSON.stringify(topKs)}`);
  topKs.forEach((k, i) => assertInteger(NAME, `topKs[${i}]`, k, { min: 1 }));
  const evalExamples = o.evalExamples ?? 32;
  assertInteger(NAME, "evalExamples", evalExamples, { min: 1 });
  const seqLen = blockSize === null ? trainLength : trainLength + trainLength / blockSize;

  return {
    name: NAME,
    description:
      `Passkey retrieval (Landmark Attention's run_test.py protocol at word level): a ${KEY_DIGITS}-digit key hidden at a random depth in filler; ` +
      `trained on prompts of ${trainLength} tokens with the loss on the key's second copy and the answer; accuracy = all ${KEY_DIGITS} answer digits right (greedy).` +
      (blockSize === null ? "" : ` Landmark after every ${blockSize} tokens; evaluated with retrieval topK ${topKs.join("/")} and the retrieval hit rate.`),
    options: { trainLength, blockSize, topKs, evalExamples },

    adaptSpec(spec: ModelSpec): ModelSpec {
      if (spec.family !== "decoder") throw new OptionError(`${NAME}: needs a decoder (next-token prediction), got family '${spec.family}'`);
      if (spec.position === "learned") throw new OptionError(`${NAME}: spec.position 'learned' cannot run at the evaluation lengths (up to 16× the training length); use 'rope' or 'none'`);
      const landmark = resolveLayers({ ...spec, seqLen }).map((l) => l.attention).find((a) => a.kind === "landmark");
      if (landmark?.kind === "landmark" && landmark.blockSize !== blockSize) {
        throw new OptionError(`${NAME}: the spec's landmark blockSize is ${landmark.blockSize}, so the task needs the option blockSize ${landmark.blockSize} (got ${String(blockSize)})`);
      }
      if (!landmark && blockSize !== null) throw new OptionError(`${NAME}: task option blockSize ${blockSize} inserts landmark tokens, but the spec has no landmark attention`);
      return { ...spec, vocabSize: PASSKEY_WORDS.length, seqLen, ...(landmark ? { landmarkId: LANDMARK_ID } : {}) };
    },

    stream({ batch, seed, position }): TaskStream {
      let index = position === undefined ? 0 : (position as { index: number }).index;
      assertInteger(NAME, "position.index", index, { min: 0 });
      return {
        next(): TaskBatch {
          const seeds = Array.from({ length: batch }, (_, i) => exampleSeed(seed, 0, index + i));
          index += batch;
          const set = passkeyExamples(trainLength, blockSize, seeds);
          const tokens = set.labels.reduce((n, r) => n + r.filter((l) => l !== IGNORE).length, 0);
          return { inputs: tf.tensor2d(set.ids, undefined, "int32"), labels: tf.tensor2d(set.labels, undefined, "int32"), tokens };
        },
        position: () => ({ index }),
      };
    },

    loss: (labels, output) => lmLoss(labels, output),

    async evaluate(model: tf.LayersModel, opts: TaskEvalOptions): Promise<EvalRow[]> {
      const spec = modelSpecOf(model);
      if (spec?.family !== "decoder") throw new OptionError(`${NAME}: evaluate needs a decoder built by defineModel`);
      const lengths = opts.quick ? [trainLength] : (opts.lengths ?? [trainLength, 4 * trainLength, 16 * trainLength]);
      const count = opts.quick ? Math.max(4, Math.floor(evalExamples / 4)) : evalExamples;
      const rows: EvalRow[] = [];
      for (const [li, length] of lengths.entries()) {
        assertInteger(NAME, "lengths[]", length, { min: BASE_LENGTH + 1 });
        if (blockSize !== null && length % blockSize !== 0) throw new OptionError(`${NAME}: evaluation length must be a multiple of blockSize (${blockSize}), got ${length}`);
        const set = passkeyExamples(length, blockSize, Array.from({ length: count }, (_, i) => exampleSeed(opts.seed, 1 + li, i)));
        if (blockSize === null) {
          rows.push({ kind: "eval", step: opts.step, length, metrics: await evaluateDense(model, set, opts.batch) });
        } else {
          for (const topK of topKs) {
            rows.push({ kind: "eval", step: opts.step, length, variant: `topK=${topK}`, metrics: await evaluateRetrieval(model, spec, set, { blockSize, topK, batch: opts.batch }) });
          }
        }
      }
      return rows;
    },
  };
}
