import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import { OptionError, ShapeError } from "@attnkit/core";
import { backendTolerance, checkGradients, describeBackends, expectClose, expectNoLeaks, randomPair } from "@attnkit/testing";
import { localContextEnhancement } from "../src/index";
import { referenceLce } from "../src/reference";

describeBackends("localContextEnhancement", (backend) => {
  const tol = backendTolerance(backend, { atol: 2e-5, rtol: 1e-4 });

  it("matches per-channel cross-correlation with zero padding (odd, non-square shapes)", async () => {
    for (const [H, W, kh, kw, heads, dv] of [
      [3, 5, 3, 3, 2, 2],
      [4, 3, 5, 1, 1, 3],
    ] as const) {
      const v = randomPair([2, heads, H * W, dv], 3 + kh);
      const kernel = randomPair([heads * dv, kh, kw], 5 + kw);
      const bias = randomPair([heads * dv], 7);
      const out = localContextEnhancement(v.tensor, { height: H, width: W, kernel: kernel.tensor, bias: bias.tensor });
      await expectClose(out, referenceLce(v.host, kernel.host, bias.host, H, W), tol);
      const noBias = localContextEnhancement(v.tensor, { height: H, width: W, kernel: kernel.tensor });
      await expectClose(noBias, referenceLce(v.host, kernel.host, null, H, W), tol);
      tf.dispose([v.tensor, kernel.tensor, bias.tensor, out, noBias]);
    }
  });

  it("gradients match finite differences; no leaks", async () => {
    const v = randomPair([1, 1, 9, 2], 11).tensor;
    const kernel = randomPair([2, 3, 3], 12).tensor;
    const bias = randomPair([2], 13).tensor;
    await checkGradients((a, w, c) => localContextEnhancement(a!, { height: 3, width: 3, kernel: w!, bias: c! }), [v, kernel, bias], { maxElements: 12 });
    await expectNoLeaks(() => localContextEnhancement(v, { height: 3, width: 3, kernel, bias }));
    tf.dispose([v, kernel, bias]);
  });

  it("rejects bad input", () => {
    const v = tf.zeros([1, 2, 12, 2]);
    const kernel = tf.zeros([4, 3, 3]);
    expect(() => localContextEnhancement(v, { height: 3, width: 5, kernel })).toThrow(/height·width = 15 tokens/);
    expect(() => localContextEnhancement(v, { height: 3, width: 4, kernel: tf.zeros([3, 3, 3]) })).toThrow(ShapeError);
    expect(() => localContextEnhancement(v, { height: 3, width: 4, kernel: tf.zeros([4, 2, 2]) })).toThrow(/kernel sizes must be odd/);
    expect(() => localContextEnhancement(v, { height: 3, width: 4, kernel, bias: tf.zeros([3]) })).toThrow(ShapeError);
    expect(() => localContextEnhancement(v, { height: 3, width: 4, kernel, padding: 1 } as never)).toThrow(OptionError);
    tf.dispose([v, kernel]);
  });
});
