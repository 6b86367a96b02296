import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { OptionError, mulberry32, withSeededRandom } from "../src/index";

// The stream itself is checked against the independent fixture in @attnkit/datasets (mqar.test.ts),
// which re-exports this generator.
describe("mulberry32", () => {
  it("continues a stream exactly from its state, and int32/uint32 seeds wrap alike", () => {
    const a = mulberry32(42);
    a();
    a();
    const b = mulberry32(a.state);
    expect([a(), a.uint32()]).toEqual([b(), b.uint32()]);
    expect(mulberry32(-1)()).toBe(mulberry32(4294967295)());
  });
  it("rejects a seed that is not a 32-bit integer", () => {
    expect(() => mulberry32(1.5)).toThrow(OptionError);
    expect(() => mulberry32(2 ** 32)).toThrow(/mulberry32: seed/);
  });
});

describe("withSeededRandom", () => {
  const weightsOf = (seed: number): Float32Array =>
    withSeededRandom(seed, () => {
      const w = tf.initializers.glorotUniform({}).apply([4, 3]);
      const values = Float32Array.from(w.dataSync());
      w.dispose();
      return values;
    });

  it("makes unseeded TF.js initialisers a function of the seed", () => {
    expect(weightsOf(7)).toEqual(weightsOf(7));
    expect(weightsOf(7)).not.toEqual(weightsOf(8));
  });

  it("restores Math.random afterwards, also when the build throws", () => {
    const original = Math.random;
    withSeededRandom(1, () => Math.random());
    expect(Math.random).toBe(original);
    expect(() =>
      withSeededRandom(1, () => {
        throw new Error("boom");
      }),
    ).toThrow("boom");
    expect(Math.random).toBe(original);
  });

  it("rejects a bad seed before touching Math.random", () => {
    const original = Math.random;
    expect(() => withSeededRandom(Number.NaN, () => 0)).toThrow(/withSeededRandom: seed/);
    expect(Math.random).toBe(original);
  });
});
