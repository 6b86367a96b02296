// The passkey retrieval task of `llama/run_test.py` at token level, for small models trained with a
// word vocabulary: filler text split at a random point around the key line, then the question; and
// the retrieval hit rate (did the top-k blocks of a query include a block holding the key).
import * as tf from "@tensorflow/tfjs";
import { OptionError, ShapeError, assertInteger, assertKnownOptions, assertNumber, assertRank } from "@attnkit/core";
import { insertLandmarks } from "./insert";

/** Word vocabulary of the default passkey prompt: id = index. Digits are single tokens. */
export const PASSKEY_WORDS: readonly string[] = [
  "<pad>", "<landmark>", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9",
  "the", "grass", "is", "green", ".", "sky", "blue", "sun", "yellow", "here", "we", "go", "there", "and", "back", "again",
  "pass", "key", "remember", "it", "what", "?", "find", "memorize", "quiz", "you", "about", "important", "info",
];

/** Token ids of the pieces of a passkey prompt. */
export interface PasskeyVocabulary {
  /** The filler sentence (repeated to the requested length). */
  garbage: number[];
  /** Before the key: "the pass key is". */
  keyIntro: number[];
  /** Between the two copies of the key: ". remember it .". */
  keyMiddle: number[];
  /** After the second copy: "is the pass key .". */
  keyOutro: number[];
  /** "what is the pass key ? the pass key is". */
  question: number[];
  /** Ids of the digits 0..9. */
  digits: number[];
  /** Optional task description at the start. */
  task?: number[];
  /** Id of the landmark token. */
  landmark: number;
}

const ids = (text: string): number[] =>
  text.split(" ").map((w) => {
    const id = PASSKEY_WORDS.indexOf(w);
    if (id < 0) throw new Error(`unknown passkey word ${w}`);
    return id;
  });

/** The default vocabulary over PASSKEY_WORDS (41 tokens, landmark id 1). */
export function passkeyVocabulary(): PasskeyVocabulary {
  return {
    garbage: ids("the grass is green . the sky is blue . the sun is yellow . here we go . there and back again ."),
    keyIntro: ids("the pass key is"),
    keyMiddle: ids(". remember it ."),
    keyOutro: ids("is the pass key ."),
    question: ids("what is the pass key ? the pass key is"),
    digits: ids("0 1 2 3 4 5 6 7 8 9"),
    task: ids("find and memorize the important info . we quiz you about it ."),
    landmark: 1,
  };
}

export interface PasskeyPromptOptions {
  /** Filler tokens in total (before and after the key line). */
  garbageTokens: number;
  seed: number;
  /** The key (default drawn uniformly from 1..50000, the official range). */
  passkey?: number;
  /** Fraction of the filler before the key line; default drawn uniformly (the official protocol). */
  depth?: number | null;
  vocabulary?: PasskeyVocabulary;
  /** With a block size, landmarks are inserted (trailing: true) and `keyBlocks` names the blocks holding the key line. */
  blockSize?: number;
}

export interface PasskeyPrompt {
  /** Prompt ids, ending with the question (landmarks inserted when blockSize is given). */
  tokenIds: number[];
  isLandmark: boolean[];
  passkey: number;
  /** The expected continuation: the key's digit ids. */
  answer: number[];
  /** Positions [keyStart, keyEnd) of the key line in `tokenIds`. */
  keyStart: number;
  keyEnd: number;
  /** Blocks holding a token of the key line (empty without blockSize). */
  keyBlocks: number[];
}

const NAME = "passkeyPrompt";

/** Mulberry32 draws in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A passkey prompt over a token vocabulary (draw order: split point, then key). */
export function passkeyPrompt(options: PasskeyPromptOptions): PasskeyPrompt {
  if (!options || typeof options !== "object") throw new OptionError(`${NAME}: options must be an object with garbageTokens and seed, got ${String(options)}`);
  assertKnownOptions(NAME, options, ["garbageTokens", "seed", "passkey", "depth", "vocabulary", "blockSize"]);
  assertInteger(NAME, "garbageTokens", options.garbageTokens, { min: 0 });
  assertInteger(NAME, "seed", options.seed);
  if (options.depth !== undefined && options.depth !== null) assertNumber(NAME, "depth", options.depth, { min: 0, max: 1 });
  if (options.passkey !== undefined) assertInteger(NAME, "passkey", options.passkey, { min: 0 });
  if (options.blockSize !== undefined) assertInteger(NAME, "blockSize", options.blockSize, { min: 1 });
  const vocab = options.vocabulary ?? passkeyVocabulary();
  if (!Array.isArray(vocab.digits) || vocab.digits.length !== 10) throw new OptionError(`${NAME}: vocabulary.digits must hold 10 ids (0..9), got ${String(vocab.digits)}`);
  if (!Array.isArray(vocab.garbage) || vocab.garbage.length === 0) throw new OptionError(`${NAME}: vocabulary.garbage must hold at least one id`);
  const random = mulberry32(options.seed);
  const n = options.garbageTokens;
  const before = options.depth === undefined || options.depth === null ? Math.floor(random() * (n + 1)) : Math.round(options.depth * n);
  const passkey = options.passkey ?? 1 + Math.floor(random() * 50000);
  const filler = (count: number) => Array.from({ length: count }, (_, i) => vocab.garbage[i % vocab.garbage.length]!);
  const answer = String(passkey).split("").map((c) => vocab.digits[Number(c)]!);
  const keyLine = [...vocab.keyIntro, ...answer, ...vocab.keyMiddle, ...answer, ...vocab.keyOutro];
  const head = [...(vocab.task ?? []), ...filler(before)];
  // As in the official script, the suffix restarts the filler from its beginning.
  const plain = [...head, ...keyLine, ...filler(n - before), ...vocab.question];
  const start = head.length;
  const end = start + keyLine.length;
  if (options.blockSize === undefined) {
    return { tokenIds: plain, isLandmark: plain.map(() => false), passkey, answer, keyStart: start, keyEnd: end, keyBlocks: [] };
  }
  const bs = options.blockSize;
  const laid = insertLandmarks([plain], { blockSize: bs, landmarkId: vocab.landmark });
  // Regular token t sits at t + ⌊t / bs⌋ once landmarks are in; its block is ⌊t / bs⌋.
  const at = (t: number) => t + Math.floor(t / bs);
  const keyBlocks = [...new Set(Array.from({ length: end - start }, (_, i) => Math.floor((start + i) / bs)))];
  return { tokenIds: laid.tokenIds[0]!, isLandmark: laid.isLandmark[0]!, passkey, answer, keyStart: at(start), keyEnd: at(end - 1) + 1, keyBlocks };
}

/**
 * Retrieval hit rate: the fraction of (batch, head, query) rows of `selection: [b, h, q, k]` (block ids,
 * as returned by landmarkRetrievalAttention / LandmarkMemory with returnSelection) that include at
 * least one of `keyBlocks`. Async: it reads the selection back (WebGPU has no synchronous reads).
 */
export async function passkeyHitRate(selection: tf.Tensor, keyBlocks: number | number[]): Promise<number> {
  const fn = "passkeyHitRate";
  assertRank(fn, "selection", selection, 4);
  const targets = new Set(Array.isArray(keyBlocks) ? keyBlocks : [keyBlocks]);
  if (targets.size === 0 || [...targets].some((b) => !Number.isInteger(b) || b < 0)) {
    throw new ShapeError(`${fn}: keyBlocks must be one or more block ids (integers ≥ 0), got ${String(keyBlocks)}`);
  }
  const k = selection.shape[3]!;
  const rows = selection.size / Math.max(1, k);
  if (rows === 0) return 0;
  const data = (await selection.data()) as Int32Array;
  let hits = 0;
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < k; j++) {
      if (targets.has(data[r * k + j]!)) {
        hits++;
        break;
      }
    }
  }
  return hits / rows;
}
