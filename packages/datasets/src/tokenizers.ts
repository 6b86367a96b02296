// Character- and byte-level tokenizers. Special tokens take the first ids (so `<pad>` is 0 and padding
// with zeros is padding with `<pad>`); characters or bytes follow.
import { assertBoolean, assertKnownOptions, OptionError } from "@attnkit/core";

export const DEFAULT_SPECIAL_TOKENS = ["<pad>", "<unk>", "<bos>", "<eos>"] as const;

export interface EncodeOptions {
  /** Prepend `<bos>`. Default false. */
  addBos?: boolean;
  /** Append `<eos>`. Default false. */
  addEos?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens instead of writing their names. Default true. */
  skipSpecial?: boolean;
}

/** The JSON form of a tokenizer (`tokenizer.toJSON()`), enough to rebuild it with `tokenizerFromJSON`. */
export type TokenizerJSON =
  | { type: "char"; specialTokens: string[]; chars: string[] }
  | { type: "byte"; specialTokens: string[] };

export interface Tokenizer {
  readonly type: "char" | "byte";
  /** Number of ids: special tokens plus characters (or the 256 bytes). */
  readonly vocabSize: number;
  /** The token of every id, in id order (special tokens, then characters or bytes as in `idToToken`). */
  readonly vocab: readonly string[];
  /** Id of each special token by name, e.g. `{ '<pad>': 0, '<unk>': 1, ... }`. */
  readonly specialTokens: Readonly<Record<string, number>>;
  /** Id of `<pad>`, or -1 when the tokenizer has none. Likewise `unkId`, `bosId`, `eosId`. */
  readonly padId: number;
  readonly unkId: number;
  readonly bosId: number;
  readonly eosId: number;
  encode(text: string, options?: EncodeOptions): number[];
  decode(ids: ArrayLike<number>, options?: DecodeOptions): string;
  /** The readable piece an id stands for (a character, `<0x0A>` for a byte, or a special token name). */
  idToToken(id: number): string;
  toJSON(): TokenizerJSON;
}

export interface TokenizerOptions {
  /** Special tokens, given the first ids in this order. Default `['<pad>', '<unk>', '<bos>', '<eos>']`. */
  specialTokens?: readonly string[];
}

function checkSpecials(fn: string, specials: unknown): string[] {
  if (!Array.isArray(specials) || specials.some((s) => typeof s !== "string" || s.length === 0)) {
    throw new OptionError(`${fn}: specialTokens must be an array of non-empty strings, got ${JSON.stringify(specials)}`);
  }
  if (new Set(specials).size !== specials.length) throw new OptionError(`${fn}: specialTokens must be distinct, got ${JSON.stringify(specials)}`);
  return [...(specials as string[])];
}

abstract class BaseTokenizer implements Tokenizer {
  abstract readonly type: "char" | "byte";
  abstract readonly vocabSize: number;
  readonly specialTokens: Readonly<Record<string, number>>;
  readonly padId: number;
  readonly unkId: number;
  readonly bosId: number;
  readonly eosId: number;
  protected readonly specials: readonly string[];

  constructor(specials: readonly string[]) {
    this.specials = specials;
    this.specialTokens = Object.freeze(Object.fromEntries(specials.map((s, i) => [s, i])));
    const id = (name: string): number => this.specialTokens[name] ?? -1;
    this.padId = id("<pad>");
    this.unkId = id("<unk>");
    this.bosId = id("<bos>");
    this.eosId = id("<eos>");
  }

  protected abstract encodeText(text: string): number[];
  protected abstract decodeRun(ids: number[]): string;
  protected abstract pieceOf(id: number): string;
  abstract toJSON(): TokenizerJSON;

  encode(text: string, options: EncodeOptions = {}): number[] {
    const fn = `${this.type}Tokenizer.encode`;
    if (typeof text !== "string") throw new OptionError(`${fn}: text must be a string, got ${typeof text}`);
    assertKnownOptions(fn, options, ["addBos", "addEos"]);
    const { addBos = false, addEos = false } = options;
    assertBoolean(fn, "addBos", addBos);
    assertBoolean(fn, "addEos", addEos);
    if (addBos && this.bosId < 0) throw new OptionError(`${fn}: addBos needs a '<bos>' special token, and this tokenizer has none`);
    if (addEos && this.eosId < 0) throw new OptionError(`${fn}: addEos needs an '<eos>' special token, and this tokenizer has none`);
    const ids = this.encodeText(text);
    if (addBos) ids.unshift(this.bosId);
    if (addEos) ids.push(this.eosId);
    return ids;
  }

  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const fn = `${this.type}Tokenizer.decode`;
    assertKnownOptions(fn, options, ["skipSpecial"]);
    const { skipSpecial = true } = options;
    assertBoolean(fn, "skipSpecial", skipSpecial);
    let out = "";
    let run: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      this.checkId(fn, `ids[${i}]`, id);
      if (id < this.specials.length) {
        out += this.decodeRun(run);
        run = [];
        if (!skipSpecial) out += this.specials[id];
      } else {
        run.push(id);
      }
    }
    return out + this.decodeRun(run);
  }

  get vocab(): readonly string[] {
    return Array.from({ length: this.vocabSize }, (_, id) => this.idToToken(id));
  }

  idToToken(id: number): string {
    this.checkId(`${this.type}Tokenizer.idToToken`, "id", id);
    return id < this.specials.length ? this.specials[id]! : this.pieceOf(id);
  }

  private checkId(fn: string, arg: string, id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new OptionError(`${fn}: ${arg} must be an integer id in [0, ${this.vocabSize - 1}], got ${id}`);
    }
  }
}

class CharTokenizer extends BaseTokenizer {
  readonly type = "char" as const;
  readonly vocabSize: number;
  private readonly chars: readonly string[];
  private readonly index: Map<string, number>;

  constructor(chars: readonly string[], specials: readonly string[]) {
    super(specials);
    this.chars = chars;
    this.index = new Map(chars.map((c, i) => [c, specials.length + i]));
    this.vocabSize = specials.length + chars.length;
  }

  protected encodeText(text: string): number[] {
    const ids: number[] = [];
    // for…of walks code points, so a character outside the BMP (an emoji) is one token.
    for (const c of text) {
      const id = this.index.get(c);
      if (id !== undefined) ids.push(id);
      else if (this.unkId >= 0) ids.push(this.unkId);
      else throw new OptionError(`charTokenizer.encode: text has the character ${JSON.stringify(c)}, which is not in the vocabulary and there is no '<unk>' token`);
    }
    return ids;
  }

  protected decodeRun(ids: number[]): string {
    return ids.map((id) => this.chars[id - this.specials.length]).join("");
  }

  protected pieceOf(id: number): string {
    return this.chars[id - this.specials.length]!;
  }

  toJSON(): TokenizerJSON {
    return { type: "char", specialTokens: [...this.specials], chars: [...this.chars] };
  }
}

class ByteTokenizer extends BaseTokenizer {
  readonly type = "byte" as const;
  readonly vocabSize: number;
  private static readonly encoder = new TextEncoder();
  // Invalid UTF-8 (a generated byte soup) decodes to U+FFFD rather than throwing.
  private static readonly decoder = new TextDecoder("utf-8", { fatal: false });

  constructor(specials: readonly string[]) {
    super(specials);
    this.vocabSize = specials.length + 256;
  }

  protected encodeText(text: string): number[] {
    const offset = this.specials.length;
    return Array.from(ByteTokenizer.encoder.encode(text), (b) => b + offset);
  }

  protected decodeRun(ids: number[]): string {
    if (ids.length === 0) return "";
    const offset = this.specials.length;
    return ByteTokenizer.decoder.decode(Uint8Array.from(ids, (id) => id - offset));
  }

  protected pieceOf(id: number): string {
    const b = id - this.specials.length;
    return b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`;
  }

  toJSON(): TokenizerJSON {
    return { type: "byte", specialTokens: [...this.specials] };
  }
}

/**
 * A character tokenizer whose vocabulary is every distinct code point of `text` (a string or an array of
 * training documents), sorted by code point so the same text always gives the same ids.
 */
export function charTokenizer(text: string | readonly string[], options: TokenizerOptions = {}): Tokenizer {
  const fn = "charTokenizer";
  assertKnownOptions(fn, options, ["specialTokens"]);
  const texts = typeof text === "string" ? [text] : text;
  if (!Array.isArray(texts) || texts.some((t) => typeof t !== "string")) {
    throw new OptionError(`${fn}: text must be a string or an array of strings, got ${typeof text}`);
  }
  const specials = checkSpecials(fn, options.specialTokens ?? DEFAULT_SPECIAL_TOKENS);
  const seen = new Set<string>();
  for (const t of texts) for (const c of t) seen.add(c);
  const chars = [...seen].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
  if (chars.length === 0) throw new OptionError(`${fn}: text must contain at least one character, got an empty text`);
  return new CharTokenizer(chars, specials);
}

/** A byte tokenizer: UTF-8 bytes 0..255 after the special tokens. Any string round-trips. */
export function byteTokenizer(options: TokenizerOptions = {}): Tokenizer {
  assertKnownOptions("byteTokenizer", options, ["specialTokens"]);
  return new ByteTokenizer(checkSpecials("byteTokenizer", options.specialTokens ?? DEFAULT_SPECIAL_TOKENS));
}

/** Rebuilds a tokenizer from `tokenizer.toJSON()` (for instance saved beside a model checkpoint). */
export function tokenizerFromJSON(json: TokenizerJSON): Tokenizer {
  const fn = "tokenizerFromJSON";
  if (json === null || typeof json !== "object") throw new OptionError(`${fn}: json must be an object, got ${String(json)}`);
  const specials = checkSpecials(fn, json.specialTokens);
  if (json.type === "byte") return new ByteTokenizer(specials);
  if (json.type === "char") {
    const chars = json.chars;
    if (!Array.isArray(chars) || chars.some((c) => typeof c !== "string" || [...c].length !== 1) || new Set(chars).size !== chars.length) {
      throw new OptionError(`${fn}: json.chars must be an array of distinct single characters`);
    }
    return new CharTokenizer([...chars], specials);
  }
  throw new OptionError(`${fn}: json.type must be one of 'char', 'byte', got ${JSON.stringify((json as { type: unknown }).type)}`);
}
