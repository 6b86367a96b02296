// Passkey retrieval prompts as in Landmark Attention's `llama/run_test.py`: a task description, filler
// text split at a random point, the key line, more filler, and the question. Seeded with Mulberry32.
import { assertBoolean, assertInteger, assertKnownOptions, assertNumber, OptionError } from "@attnkit/core";
import { IGNORE_INDEX } from "./mqar";
import { checkSeed, Rng } from "./rng";
import { byteTokenizer, charTokenizer, type Tokenizer } from "./tokenizers";

export const PASSKEY_TASK = "There is an important info hidden inside a lot of irrelevant text. Find it and memorize them. I will quiz you about the important information there.";
/** The 89-character filler sentence; filler is its repetition joined by spaces, cut to `garbageChars`. */
export const PASSKEY_GARBAGE = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.";
export const PASSKEY_QUESTION = "What is the pass key? The pass key is";

export interface PasskeyOptions {
  seed: number;
  /** Characters of filler in total (prefix + suffix), the `n` of the official script. */
  garbageChars: number;
  /** Number of prompts. Default 1. */
  numExamples?: number;
  /** Fraction of the filler placed before the key line, in [0, 1]; null draws it uniformly per prompt (the official protocol). Default null. */
  depth?: number | null;
  /** Keys are uniform integers in [minKey, maxKey]. Defaults 1 and 50000 (the official range). */
  minKey?: number;
  maxKey?: number;
  /** Start with the task description line. Default true. */
  taskDescription?: boolean;
  /** Tokenizer for `inputs` and `labels`. Default a byte tokenizer. */
  tokenizer?: Tokenizer;
}

export interface PasskeyData {
  /** The prompt texts, ending with "The pass key is". */
  prompts: string[];
  /** The expected continuation of each prompt: " " + the key. */
  answers: string[];
  passkeys: number[];
  /** Character offset of the key line in each prompt (where the needle sits). */
  keyOffsets: number[];
  /** Token ids of prompt + answer, one row per example (rows differ in length when keys differ in digits). */
  inputs: number[][];
  /** Next-token targets: the answer tokens at the positions that predict them, −100 elsewhere. */
  labels: number[][];
  /** Number of prompt tokens in each row (generation starts after them). */
  promptLengths: number[];
}

const FN = "passkey";
const KNOWN = ["seed", "garbageChars", "numExamples", "depth", "minKey", "maxKey", "taskDescription", "tokenizer"];

function filler(chars: number): string {
  const unit = PASSKEY_GARBAGE.length + 1;
  return Array.from({ length: Math.ceil(chars / unit) + 1 }, () => PASSKEY_GARBAGE).join(" ").slice(0, chars);
}

/**
 * Passkey retrieval prompts. Draw order per example: the split point (uniform in [0, garbageChars],
 * skipped when `depth` is given), then the key.
 */
export function passkey(options: PasskeyOptions): PasskeyData {
  if (options === null || typeof options !== "object") throw new OptionError(`${FN}: options must be an object, got ${String(options)}`);
  assertKnownOptions(FN, options, KNOWN);
  const { seed, garbageChars, numExamples = 1, depth = null, minKey = 1, maxKey = 50000, taskDescription = true } = options;
  checkSeed(FN, "seed", seed);
  assertInteger(FN, "garbageChars", garbageChars, { min: 0 });
  assertInteger(FN, "numExamples", numExamples, { min: 0 });
  if (depth !== null) assertNumber(FN, "depth", depth, { min: 0, max: 1 });
  assertInteger(FN, "minKey", minKey, { min: 0 });
  assertInteger(FN, "maxKey", maxKey, { min: minKey, max: Number.MAX_SAFE_INTEGER });
  assertBoolean(FN, "taskDescription", taskDescription);
  const tokenizer = options.tokenizer ?? byteTokenizer();
  if (typeof tokenizer !== "object" || tokenizer === null || typeof tokenizer.encode !== "function") {
    throw new OptionError(`${FN}: tokenizer must be a Tokenizer (charTokenizer or byteTokenizer), got ${String(tokenizer)}`);
  }

  const rng = new Rng(seed);
  const garbage = filler(garbageChars);
  const out: PasskeyData = { prompts: [], answers: [], passkeys: [], keyOffsets: [], inputs: [], labels: [], promptLengths: [] };
  for (let e = 0; e < numExamples; e++) {
    const prefixChars = depth === null ? rng.randint(garbageChars + 1) : Math.round(depth * garbageChars);
    const key = minKey + rng.randint(maxKey - minKey + 1);
    // As in the official script, the suffix restarts the filler from its beginning.
    const head = [...(taskDescription ? [PASSKEY_TASK] : []), garbage.slice(0, prefixChars)].join("\n") + "\n";
    const lines = [`The pass key is ${key}. Remember it. ${key} is the pass key.`, garbage.slice(0, garbageChars - prefixChars), PASSKEY_QUESTION];
    const prompt = head + lines.join("\n");
    const answer = ` ${key}`;
    const promptIds = tokenizer.encode(prompt);
    const answerIds = tokenizer.encode(answer);
    const ids = [...promptIds, ...answerIds];
    const labels = new Array<number>(ids.length).fill(IGNORE_INDEX);
    // Position t predicts token t + 1: the last prompt position predicts the first answer token.
    for (let i = 0; i < answerIds.length; i++) labels[promptIds.length - 1 + i] = answerIds[i]!;
    out.prompts.push(prompt);
    out.answers.push(answer);
    out.passkeys.push(key);
    out.keyOffsets.push(head.length);
    out.inputs.push(ids);
    out.labels.push(labels);
    out.promptLengths.push(promptIds.length);
  }
  return out;
}

/** A small character tokenizer covering every character a passkey prompt can contain. */
export function passkeyTokenizer(): Tokenizer {
  return charTokenizer([PASSKEY_TASK, PASSKEY_GARBAGE, PASSKEY_QUESTION, "The pass key is 0123456789. Remember it. is the pass key.\n "]);
}
