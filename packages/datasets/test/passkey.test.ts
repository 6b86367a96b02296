import { describe, expect, it } from "vitest";
import { OptionError } from "@attnkit/core";
import { byteTokenizer, IGNORE_INDEX, passkey, passkeyTokenizer, PASSKEY_GARBAGE, PASSKEY_QUESTION, PASSKEY_TASK } from "../src/index";

// The official layout (llama/run_test.py): filler = the sentence repeated with single spaces, and both
// the prefix and the suffix are cut from its start.
const officialFiller = Array.from({ length: 500 }, () => PASSKEY_GARBAGE).join(" ");
const official = (prefix: number, suffix: number, key: number, task = true): string =>
  [...(task ? [PASSKEY_TASK] : []), officialFiller.slice(0, prefix), `The pass key is ${key}. Remember it. ${key} is the pass key.`, officialFiller.slice(0, suffix), PASSKEY_QUESTION].join("\n");

describe("passkey", () => {
  it("builds the official prompt layout with the key at a uniformly drawn split", () => {
    const n = 1000;
    const data = passkey({ seed: 3, garbageChars: n, numExamples: 40 });
    const splits: number[] = [];
    data.prompts.forEach((prompt, e) => {
      const key = data.passkeys[e]!;
      expect(Number.isInteger(key) && key >= 1 && key <= 50000).toBe(true);
      const keyAt = data.keyOffsets[e]!;
      const prefix = keyAt - PASSKEY_TASK.length - 2;
      expect(prompt).toBe(official(prefix, n - prefix, key));
      expect(prompt.slice(keyAt)).toMatch(new RegExp(`^The pass key is ${key}\\.`));
      expect(data.answers[e]).toBe(` ${key}`);
      splits.push(prefix);
    });
    // Draws cover the range rather than sitting at one depth.
    expect(Math.min(...splits)).toBeLessThan(n / 4);
    expect(Math.max(...splits)).toBeGreaterThan((3 * n) / 4);
  });

  it("tokenizes prompt + answer with next-token labels on the answer only", () => {
    const tok = byteTokenizer();
    const data = passkey({ seed: 5, garbageChars: 120, numExamples: 3, tokenizer: tok });
    data.inputs.forEach((ids, e) => {
      expect(tok.decode(ids)).toBe(data.prompts[e]! + data.answers[e]!);
      const p = data.promptLengths[e]!;
      expect(p).toBe(tok.encode(data.prompts[e]!).length);
      const y = data.labels[e]!;
      expect(y.length).toBe(ids.length);
      y.forEach((v, t) => {
        if (t >= p - 1 && t < ids.length - 1) expect(v).toBe(ids[t + 1]);
        else expect(v).toBe(IGNORE_INDEX);
      });
      expect(tok.decode(y.filter((v) => v !== IGNORE_INDEX))).toBe(data.answers[e]);
    });
  });

  it("is deterministic under a seed and differs across seeds", () => {
    const o = { garbageChars: 300, numExamples: 4 };
    expect(passkey({ seed: 1, ...o })).toEqual(passkey({ seed: 1, ...o }));
    expect(passkey({ seed: 1, ...o }).passkeys).not.toEqual(passkey({ seed: 2, ...o }).passkeys);
  });

  it("places the key at a fixed depth, in a fixed key range, without the task line", () => {
    const first = passkey({ seed: 0, garbageChars: 500, depth: 0, minKey: 10, maxKey: 12, taskDescription: false });
    expect(first.keyOffsets[0]).toBe(1);
    expect(first.prompts[0]).toBe(official(0, 500, first.passkeys[0]!, false));
    expect([10, 11, 12]).toContain(first.passkeys[0]);
    const last = passkey({ seed: 0, garbageChars: 500, depth: 1, numExamples: 5, minKey: 7, maxKey: 7 });
    expect(last.passkeys).toEqual([7, 7, 7, 7, 7]);
    expect(last.prompts[0]).toBe(official(500, 0, 7));
    const mid = passkey({ seed: 0, garbageChars: 500, depth: 0.5 });
    expect(mid.keyOffsets[0]).toBe(PASSKEY_TASK.length + 2 + 250);
  });

  it("works over a small character vocabulary", () => {
    const tok = passkeyTokenizer();
    expect(tok.vocabSize).toBeLessThan(64);
    const data = passkey({ seed: 8, garbageChars: 2000, numExamples: 3, tokenizer: tok });
    data.inputs.forEach((ids, e) => {
      expect(ids).not.toContain(tok.unkId);
      expect(tok.decode(ids)).toBe(data.prompts[e]! + data.answers[e]!);
    });
  });

  it("rejects bad options with an OptionError naming the argument", () => {
    expect(() => passkey({ seed: 0, garbageChars: -1 })).toThrow(/passkey: garbageChars must be an integer ≥ 0/);
    expect(() => passkey({ seed: 0, garbageChars: 10, depth: 1.5 })).toThrow(/passkey: depth must be a finite number ≥ 0 and ≤ 1/);
    expect(() => passkey({ seed: 0, garbageChars: 10, minKey: 5, maxKey: 4 })).toThrow(/passkey: maxKey must be an integer/);
    expect(() => passkey({ seed: 0, garbageChars: 10, numExamples: 1.5 })).toThrow(/numExamples/);
    expect(() => passkey({ seed: 0, garbageChars: 10, tokenizer: {} as never })).toThrow(/passkey: tokenizer must be a Tokenizer/);
    expect(() => passkey({ seed: 0, garbageChars: 10, length: 3 } as never)).toThrow(/unknown option 'length'/);
    expect(() => passkey({ seed: -2147483649, garbageChars: 10 })).toThrow(OptionError);
  });
});
