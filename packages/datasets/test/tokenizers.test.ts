import { describe, expect, it } from "vitest";
import { fc } from "@attnkit/testing";
import { OptionError } from "@attnkit/core";
import { byteTokenizer, charTokenizer, DEFAULT_SPECIAL_TOKENS, tokenizerFromJSON } from "../src/index";

describe("byteTokenizer", () => {
  const tok = byteTokenizer();

  it("puts the special tokens first and the 256 bytes after them", () => {
    expect(tok.vocabSize).toBe(260);
    expect(tok.specialTokens).toEqual({ "<pad>": 0, "<unk>": 1, "<bos>": 2, "<eos>": 3 });
    expect([tok.padId, tok.unkId, tok.bosId, tok.eosId]).toEqual([0, 1, 2, 3]);
    expect(tok.encode("A\n")).toEqual([65 + 4, 10 + 4]);
    // UTF-8: "é" is two bytes, "🐋" four.
    expect(tok.encode("é🐋")).toEqual([0xc3, 0xa9, 0xf0, 0x9f, 0x90, 0x8b].map((b) => b + 4));
    expect(tok.encode("hi", { addBos: true, addEos: true })).toEqual([2, 104 + 4, 105 + 4, 3]);
    expect(tok.idToToken(69)).toBe("A");
    expect(tok.idToToken(14)).toBe("<0x0A>");
    expect(tok.idToToken(3)).toBe("<eos>");
    expect(tok.vocab.length).toBe(260);
    expect(tok.vocab.slice(0, 4)).toEqual([...DEFAULT_SPECIAL_TOKENS]);
    expect(tok.vocab[69]).toBe("A");
  });

  it("round-trips any string", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 40 }), (s) => {
        expect(tok.decode(tok.encode(s))).toBe(s);
        expect(tok.decode(tok.encode(s, { addBos: true, addEos: true }))).toBe(s);
      }),
      { numRuns: 200, seed: 1 },
    );
  });

  it("decodes specials by name on request and invalid UTF-8 as U+FFFD", () => {
    expect(tok.decode([2, 108, 3], { skipSpecial: false })).toBe("<bos>h<eos>");
    expect(tok.decode([2, 108, 3])).toBe("h");
    expect(tok.decode([0xff + 4])).toBe("\uFFFD");
  });

  it("takes custom special tokens, or none", () => {
    const plain = byteTokenizer({ specialTokens: [] });
    expect(plain.vocabSize).toBe(256);
    expect(plain.encode("a")).toEqual([97]);
    expect(plain.padId).toBe(-1);
    expect(() => plain.encode("a", { addEos: true })).toThrow(/addEos needs an '<eos>'/);
    const custom = byteTokenizer({ specialTokens: ["<eos>"] });
    expect(custom.encode("a", { addEos: true })).toEqual([98, 0]);
  });

  it("rejects bad input with an OptionError naming the argument", () => {
    expect(() => tok.decode([260])).toThrow(/byteTokenizer.decode: ids\[0\] must be an integer id in \[0, 259\], got 260/);
    expect(() => tok.decode([1.5])).toThrow(OptionError);
    expect(() => tok.encode(5 as unknown as string)).toThrow(/text must be a string/);
    expect(() => tok.encode("a", { addBOS: true } as never)).toThrow(/unknown option 'addBOS'/);
    expect(() => tok.decode([5], { skipSpecial: "no" as unknown as boolean })).toThrow(/skipSpecial must be true or false/);
    expect(() => byteTokenizer({ specialTokens: ["<a>", "<a>"] })).toThrow(/specialTokens must be distinct/);
    expect(() => byteTokenizer({ specialTokens: [""] })).toThrow(/specialTokens must be an array of non-empty strings/);
    expect(() => byteTokenizer({ special: [] } as never)).toThrow(/unknown option 'special'/);
  });
});

describe("charTokenizer", () => {
  it("builds a sorted code-point vocabulary after the special tokens", () => {
    const tok = charTokenizer(["banana", "cab🐋"]);
    expect(tok.vocabSize).toBe(DEFAULT_SPECIAL_TOKENS.length + 5);
    expect([4, 5, 6, 7, 8].map((i) => tok.idToToken(i))).toEqual(["a", "b", "c", "n", "🐋"]);
    expect(tok.vocab).toEqual(["<pad>", "<unk>", "<bos>", "<eos>", "a", "b", "c", "n", "🐋"]);
    expect(tok.encode("cab🐋")).toEqual([6, 4, 5, 8]);
    // The same text always gives the same ids, whatever the document order.
    expect(charTokenizer(["cab🐋", "banana"]).toJSON()).toEqual(tok.toJSON());
  });

  it("round-trips any text over its vocabulary and maps unknown characters to <unk>", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", minLength: 1, maxLength: 30 }), fc.string({ unit: "grapheme", maxLength: 30 }), (corpus, other) => {
        const tok = charTokenizer(corpus);
        expect(tok.decode(tok.encode(corpus))).toBe(corpus);
        const known = new Set(corpus);
        const ids = tok.encode(other);
        expect(ids.length).toBe([...other].length);
        [...other].forEach((c, i) => expect(ids[i] === tok.unkId).toBe(!known.has(c)));
      }),
      { numRuns: 150, seed: 2 },
    );
  });

  it("throws on an unknown character when there is no <unk>", () => {
    const tok = charTokenizer("ab", { specialTokens: ["<pad>"] });
    expect(tok.encode("ba")).toEqual([2, 1]);
    expect(() => tok.encode("abc")).toThrow(/the character "c", which is not in the vocabulary/);
  });

  it("survives a JSON round trip", () => {
    const tok = charTokenizer("Call me Ishmael.", { specialTokens: ["<pad>", "<eos>"] });
    const back = tokenizerFromJSON(JSON.parse(JSON.stringify(tok.toJSON())));
    expect(back.vocabSize).toBe(tok.vocabSize);
    expect(back.encode("Ishmael", { addEos: true })).toEqual(tok.encode("Ishmael", { addEos: true }));
    const bytes = tokenizerFromJSON(byteTokenizer().toJSON());
    expect(bytes.encode("x")).toEqual(byteTokenizer().encode("x"));
  });

  it("rejects bad input with an OptionError naming the argument", () => {
    expect(() => charTokenizer("")).toThrow(/charTokenizer: text must contain at least one character/);
    expect(() => charTokenizer(3 as unknown as string)).toThrow(/charTokenizer: text must be a string or an array of strings/);
    expect(() => charTokenizer("a").decode([99])).toThrow(/charTokenizer.decode: ids\[0\] must be an integer id in \[0, 4\]/);
    expect(() => tokenizerFromJSON({ type: "word" } as never)).toThrow(OptionError);
    expect(() => tokenizerFromJSON({ type: "char", specialTokens: [], chars: ["ab"] })).toThrow(/json.chars must be an array of distinct single characters/);
  });
});
