import { beforeAll, describe, expect, it } from "vitest";
import { loadMnist, type ImageSet } from "../src/index";

// Content fingerprint (label + FNV-1a of the pixel bytes) of one image, to compare sets without relying on order.
function key(set: ImageSet, i: number): string {
  const bytes = new Uint8Array(set.images.buffer, set.images.byteOffset + i * 784 * 4, 784 * 4);
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193);
  return `${set.labels[i]}:${h >>> 0}`;
}
const keys = (set: ImageSet): string[] => Array.from({ length: set.count }, (_, i) => key(set, i));
// Vitest's deep equality is slow on millions of elements; compare the bytes.
const sameBytes = (a: Float32Array | Int32Array, b: Float32Array | Int32Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe("loadMnist", () => {
  let split: { train: ImageSet; test: ImageSet };
  beforeAll(async () => {
    split = await loadMnist();
  });

  it("has the package's 10,000 real digits in a fixed 8,000 / 2,000 split", () => {
    const { train, test } = split;
    expect(train.count + test.count).toBe(10000);
    expect(test.count).toBe(2000);
    for (const s of [train, test]) {
      expect(s.images.length).toBe(s.count * 784);
      expect(s.labels.length).toBe(s.count);
      expect(s.imageShape).toEqual([28, 28, 1]);
      expect(s.images.every((p) => p >= 0 && p <= 1)).toBe(true);
      // Stratified: every digit in both splits, about 10% each.
      const counts = Array.from({ length: 10 }, (_, d) => s.labels.filter((l) => l === d).length);
      expect(Math.min(...counts)).toBeGreaterThan(s.count * 0.07);
      // Real digits: ink covers roughly a fifth of an image, not noise or blanks.
      const ink = s.images.reduce((a, p) => a + p, 0) / s.count;
      expect(ink).toBeGreaterThan(60);
      expect(ink).toBeLessThan(160);
    }
    // Classes are mixed, not in blocks of one digit.
    expect(new Set(train.labels.slice(0, 50)).size).toBeGreaterThan(5);
  });

  it("never shares an image between train and test, and the seed changes order but not membership", async () => {
    const { train, test } = split;
    const trainKeys = new Set(keys(train));
    // Fingerprints tell images apart (the package has no exact duplicates within a split).
    expect(trainKeys.size).toBeGreaterThan(train.count - 5);
    const overlap = keys(test).filter((k) => trainKeys.has(k));
    expect(overlap).toEqual([]);
    const reseeded = await loadMnist({ seed: 9 });
    expect(Array.from(reseeded.test.labels)).not.toEqual(Array.from(test.labels));
    expect(keys(reseeded.test).sort()).toEqual(keys(test).sort());
    const again = await loadMnist();
    expect(sameBytes(again.train.images, train.images)).toBe(true);
    expect(sameBytes(again.test.labels, test.labels)).toBe(true);
    expect(sameBytes(again.test.images, reseeded.test.images)).toBe(false);
  });

  it("rejects bad options", async () => {
    await expect(loadMnist({ testFraction: 0 })).rejects.toThrow(/loadMnist: testFraction must be a finite number > 0 and < 1/);
    await expect(loadMnist({ split: 0.2 } as never)).rejects.toThrow(/unknown option 'split'/);
  });
});
