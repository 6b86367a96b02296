// Passkey prompts over the word vocabulary and the retrieval hit rate.
import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import { OptionError } from "@attnkit/core";
import { describeBackends } from "@attnkit/testing";
import { PASSKEY_WORDS, landmarkRetrievalAttention, passkeyHitRate, passkeyPrompt } from "../src/index";

const words = (ids: number[]) => ids.map((i) => PASSKEY_WORDS[i]).join(" ");

it("passkeyPrompt lays out task, filler, key line, filler and question", () => {
  const p = passkeyPrompt({ garbageTokens: 40, seed: 3, passkey: 4071, depth: 0.25 });
  const text = words(p.tokenIds);
  expect(text.startsWith("find and memorize the important info . we quiz you about it . the grass is green")).toBe(true);
  expect(words(p.tokenIds.slice(p.keyStart, p.keyEnd))).toBe("the pass key is 4 0 7 1 . remember it . 4 0 7 1 is the pass key .");
  expect(text.endsWith("what is the pass key ? the pass key is")).toBe(true);
  expect(words(p.answer)).toBe("4 0 7 1");
  expect(p.keyStart).toBe(13 + 10); // 13 task tokens, then a quarter of the filler
  expect(p.tokenIds.length).toBe(13 + 40 + 21 + 10); // task, filler, key line, question
  // Seeded: the same seed gives the same prompt, another seed another key.
  expect(passkeyPrompt({ garbageTokens: 40, seed: 9 })).toEqual(passkeyPrompt({ garbageTokens: 40, seed: 9 }));
  expect(passkeyPrompt({ garbageTokens: 40, seed: 9 }).passkey).not.toBe(passkeyPrompt({ garbageTokens: 40, seed: 10 }).passkey);
});

it("passkeyPrompt with a block size inserts landmarks and names the key's blocks", () => {
  const bs = 8;
  const p = passkeyPrompt({ garbageTokens: 100, seed: 5, passkey: 123, blockSize: bs });
  p.isLandmark.forEach((flag, i) => expect(flag).toBe(i % (bs + 1) === bs));
  p.tokenIds.forEach((id, i) => expect(id === 1).toBe(p.isLandmark[i]));
  const keyLine = p.tokenIds.slice(p.keyStart, p.keyEnd).filter((_, i) => !p.isLandmark[p.keyStart + i]);
  expect(words(keyLine)).toBe("the pass key is 1 2 3 . remember it . 1 2 3 is the pass key .");
  const blocksOfKey = [...new Set(Array.from({ length: p.keyEnd - p.keyStart }, (_, i) => Math.floor((p.keyStart + i) / (bs + 1))))];
  expect(p.keyBlocks).toEqual(blocksOfKey);
  expect(() => passkeyPrompt({ garbageTokens: -1, seed: 1 })).toThrow(OptionError);
  expect(() => passkeyPrompt({ garbageTokens: 10, seed: 1, depth: 2 })).toThrow(/passkeyPrompt: depth/);
});

describeBackends("passkeyHitRate", () => {
  it("counts the rows whose top-k includes a key block", async () => {
    const selection = tf.tensor4d([0, 3, 1, 2, 3, 4, 0, 1, 2, 5, 3, 5], [1, 2, 3, 2], "int32");
    expect(await passkeyHitRate(selection, 3)).toBeCloseTo(3 / 6, 12);
    expect(await passkeyHitRate(selection, [3, 5])).toBeCloseTo(4 / 6, 12);
    expect(await passkeyHitRate(selection, 7)).toBe(0);
    await expect(passkeyHitRate(selection, [])).rejects.toThrow(/keyBlocks/);
    selection.dispose();
  });

  it("scores a retrieval whose queries point at the key block", async () => {
    // Keys of block 2's landmark align with every query; the other landmarks point away.
    const bs = 3;
    const n = bs + 1;
    const M = 5 * n;
    const T = M + 4;
    const k = tf.buffer([1, 1, T, 2]);
    for (let m = 0; m < 5; m++) k.set(m === 2 ? 4 : -4, 0, 0, m * n + bs, 0);
    const q = tf.buffer([1, 1, T, 2]);
    for (let t = 0; t < T; t++) q.set(1, 0, 0, t, 0);
    const [kt, qt, v] = [k.toTensor(), q.toTensor(), tf.ones([1, 1, T, 2])];
    const r = landmarkRetrievalAttention(qt, kt, v, { blockSize: bs, topK: 1, memoryLength: M, returnSelection: true });
    expect(await passkeyHitRate(r.selection, 2)).toBe(1);
    expect(await passkeyHitRate(r.selection, 1)).toBe(0);
    tf.dispose([kt, qt, v, r.output, r.selection, r.scores]);
  });
});
