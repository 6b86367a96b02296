import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { expectClose, randomPair } from "@attnkit/testing";
import { OptionError, ShapeError, checkLayerArgs, lastDim, mergeHeads, splitHeads } from "../src/index";

describe("layer helpers", () => {
  it("splitHeads and mergeHeads are inverse, head h owning channels h·d … h·d + d − 1", async () => {
    const x = randomPair([2, 5, 12], 1).tensor;
    const heads = splitHeads(x, 3);
    expect(heads.shape).toEqual([2, 3, 5, 4]);
    await expectClose(heads.slice([1, 2, 4, 0], [1, 1, 1, 4]).reshape([4]), x.slice([1, 4, 8], [1, 1, 4]).reshape([4]), { atol: 0, rtol: 0 });
    await expectClose(mergeHeads(heads), x, { atol: 0, rtol: 0 });
    tf.dispose([x, heads]);
  });
  it("reject bad shapes and arguments with clear errors", () => {
    expect(() => splitHeads(tf.zeros([2, 5, 10]), 3)).toThrow(ShapeError);
    expect(() => mergeHeads(tf.zeros([2, 5, 10]))).toThrow(/mergeHeads: x must have shape/);
    expect(() => checkLayerArgs("MyLayer", { numHeads: 2, nmae: "x" }, ["numHeads"])).toThrow(/MyLayer: unknown option 'nmae'/);
    expect(() => checkLayerArgs("MyLayer", { numHeads: 2, name: "ok", trainable: true }, ["numHeads"])).not.toThrow();
    expect(() => checkLayerArgs("MyLayer", undefined, [])).toThrow(OptionError);
    expect(lastDim("MyLayer", [null, 7, 16])).toBe(16);
    expect(() => lastDim("MyLayer", [null, 7, null])).toThrow(/last input dimension must be known/);
  });
});
