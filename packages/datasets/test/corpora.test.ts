import { beforeAll, describe, expect, it } from "vitest";
import { OptionError } from "@attnkit/core";
import { byteTokenizer, charTokenizer, encodeDocuments, loadMobyDick, loadSotu, splitDocuments, textWindows, type TextCorpus } from "../src/index";

const ids = (docs: { id: string }[]): string[] => docs.map((d) => d.id);

function expectDisjointSplit(corpus: TextCorpus, total: number): void {
  const train = new Set(ids(corpus.train));
  const validation = new Set(ids(corpus.validation));
  expect(train.size).toBe(corpus.train.length);
  expect(validation.size).toBe(corpus.validation.length);
  expect([...validation].filter((id) => train.has(id))).toEqual([]);
  expect(train.size + validation.size).toBe(total);
  // No validation text appears in training: whole documents, not tokens, were held out.
  const trainTexts = new Set(corpus.train.map((d) => d.text));
  expect(corpus.validation.some((d) => trainTexts.has(d.text))).toBe(false);
}

describe("loadMobyDick", () => {
  let corpus: TextCorpus;
  beforeAll(async () => {
    corpus = await loadMobyDick();
  });

  it("has every chapter as one document, split by chapter", () => {
    expect(corpus.name).toBe("moby-dick");
    expectDisjointSplit(corpus, 139);
    expect(corpus.validation.length).toBe(14);
    const all = [...corpus.train, ...corpus.validation];
    expect(all.filter((d) => /^chapter-\d+$/.test(d.id)).length).toBe(135);
    const first = all.find((d) => d.id === "chapter-1")!;
    expect(first.title).toBe("Loomings.");
    expect(first.text.startsWith("Call me Ishmael.")).toBe(true);
    // Each split keeps the book's order.
    const order = (d: { id: string }): number => all.findIndex((x) => x.id === d.id);
    expect(corpus.train.map(order)).toEqual([...corpus.train.map(order)].sort((a, b) => a - b));
  });

  it("is deterministic under a seed, and the seed or shuffle: false change the held-out chapters", async () => {
    const again = await loadMobyDick();
    expect(ids(again.validation)).toEqual(ids(corpus.validation));
    const other = await loadMobyDick({ seed: 1 });
    expect(ids(other.validation)).not.toEqual(ids(corpus.validation));
    expectDisjointSplit(other, 139);
    const tail = await loadMobyDick({ shuffle: false, validationFraction: 0.05, frontMatter: false });
    expectDisjointSplit(tail, 135);
    expect(ids(tail.validation)).toEqual(["chapter-129", "chapter-130", "chapter-131", "chapter-132", "chapter-133", "chapter-134", "chapter-135"]);
  });

  it("rejects bad options", async () => {
    await expect(loadMobyDick({ validationFraction: 1 })).rejects.toThrow(/loadMobyDick: validationFraction must be a finite number ≥ 0 and < 1/);
    await expect(loadMobyDick({ frontMatter: "yes" as never })).rejects.toThrow(/loadMobyDick: frontMatter must be true or false/);
    await expect(loadMobyDick({ split: 0.1 } as never)).rejects.toThrow(/unknown option 'split'/);
    await expect(loadMobyDick({ seed: 0.5 })).rejects.toThrow(OptionError);
  });
});

describe("loadSotu", () => {
  let corpus: TextCorpus;
  beforeAll(async () => {
    corpus = await loadSotu();
  });

  it("has one document per address, split by address", () => {
    expect(corpus.name).toBe("sotu");
    expectDisjointSplit(corpus, 233);
    expect(corpus.validation.length).toBe(23);
    const all = [...corpus.train, ...corpus.validation];
    expect(all.some((d) => d.id === "1790-george-washington")).toBe(true);
    expect(all.every((d) => d.text.length > 1000)).toBe(true);
  });

  it("filters by years and holds out the latest addresses without shuffling", async () => {
    const recent = await loadSotu({ years: [2001, 2021], shuffle: false, validationFraction: 0.2 });
    expectDisjointSplit(recent, recent.train.length + recent.validation.length);
    expect(recent.validation.length).toBe(Math.round(0.2 * (recent.train.length + recent.validation.length)));
    const year = (d: { id: string }): number => Number(d.id.slice(0, 4));
    expect([...recent.train, ...recent.validation].every((d) => year(d) >= 2001 && year(d) <= 2021)).toBe(true);
    expect(Math.max(...recent.train.map(year))).toBeLessThanOrEqual(Math.min(...recent.validation.map(year)));
  });

  it("rejects bad options", async () => {
    await expect(loadSotu({ years: [2000, 1990] })).rejects.toThrow(/loadSotu: years must be \[from, to\]/);
    await expect(loadSotu({ years: [1500, 1600] })).rejects.toThrow(/loadSotu: years \[1500,1600\] select 0 address/);
    await expect(loadSotu({ validationFraction: -0.1 })).rejects.toThrow(/loadSotu: validationFraction/);
  });
});

describe("splitDocuments", () => {
  it("holds out whole documents, at least one, never all", () => {
    const docs = Array.from({ length: 7 }, (_, i) => i);
    expect(splitDocuments("f", docs, { validationFraction: 0.01 }).validation.length).toBe(1);
    expect(splitDocuments("f", docs, { validationFraction: 0.99 }).train.length).toBe(1);
    expect(splitDocuments("f", docs, { validationFraction: 0 })).toEqual({ train: docs, validation: [] });
    const s = splitDocuments("f", docs, { validationFraction: 0.3, seed: 4 });
    expect([...s.train, ...s.validation].sort()).toEqual(docs);
  });
});

describe("encodeDocuments and textWindows", () => {
  it("joins documents with <eos> and windows them into next-token pairs", () => {
    const tok = charTokenizer(["abc", "cab"]);
    const stream = encodeDocuments([{ id: "x", title: "", text: "abc" }, "cab"], tok);
    expect(Array.from(stream)).toEqual([...tok.encode("abc", { addEos: true }), ...tok.encode("cab", { addEos: true })]);
    const { inputs, labels } = textWindows(stream, { seqLen: 3, stride: 2 });
    expect(inputs.size).toBe(3);
    const read = (c: typeof inputs, i: number): number[] => {
      const out = new Int32Array(3);
      c.write(i, out, 0);
      return Array.from(out);
    };
    for (let w = 0; w < inputs.size; w++) {
      expect(read(inputs, w)).toEqual(Array.from(stream.slice(2 * w, 2 * w + 3)));
      expect(read(labels, w)).toEqual(Array.from(stream.slice(2 * w + 1, 2 * w + 4)));
    }
    expect(textWindows([1, 2, 3], { seqLen: 3 }).inputs.size).toBe(0);
    expect(textWindows([1, 2, 3, 4], { seqLen: 3 }).inputs.size).toBe(1);
    expect(encodeDocuments(["ab"], byteTokenizer({ specialTokens: [] })).length).toBe(2);
  });

  it("rejects bad input", () => {
    expect(() => textWindows([1, 2], { seqLen: 0 })).toThrow(/textWindows: seqLen must be an integer ≥ 1/);
    expect(() => textWindows([1, 2], { seqLen: 1, stride: 0 })).toThrow(/textWindows: stride/);
    expect(() => encodeDocuments("abc" as never, byteTokenizer())).toThrow(/encodeDocuments: docs must be an array/);
    expect(() => encodeDocuments([3 as never], byteTokenizer())).toThrow(/encodeDocuments: docs\[0\]/);
  });
});
