import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import { OptionError } from "@attnkit/core";
import { describeBackends, expectClose, randomPair, runLayerTest } from "@attnkit/testing";
import { TempScaleAttention, logNScaledAttention, ssmaxAttention, temperatureAttention, type TempScaleAttentionArgs } from "../src/index";

/** The layer's forward pass written out with the ops, from its weights (checks the wiring). */
function manual(layer: TempScaleAttention, x: tf.Tensor3D): tf.Tensor {
  return tf.tidy(() => {
    const [b, s, dm] = x.shape;
    const w = layer.getWeights();
    const h = layer.numHeads;
    const proj = (i: number, input: tf.Tensor) => tf.matMul(input, w[2 * i]!).add(w[2 * i + 1]!);
    const split = (y: tf.Tensor, d: number) => y.reshape([b, s, h, d]).transpose([0, 2, 1, 3]);
    const flat = x.reshape([b * s, dm]);
    const q = split(proj(0, flat), layer.keyDim);
    const k = split(proj(1, flat), layer.keyDim);
    const v = split(proj(2, flat), layer.valueDim);
    const common = { causal: layer.causal };
    let o: tf.Tensor;
    if (layer.temperatureMode === "ssmax") o = ssmaxAttention(q, k, v, { ...common, s: w[8]!, b: layer.ssmaxB });
    else if (layer.temperatureMode === "log-n") o = logNScaledAttention(q, k, v, { ...common, trainLength: layer.trainLength! });
    else o = temperatureAttention(q, k, v, { ...common, temperature: layer.temperatures() });
    const merged = o.transpose([0, 2, 1, 3]).reshape([b * s, h * layer.valueDim]);
    return proj(3, merged).reshape([b, s, -1]);
  });
}

describeBackends("TempScaleAttention", (backend) => {
  const small = backend === "webgpu";
  const variants: [string, TempScaleAttentionArgs, number][] = [
    ["fixed τ", { numHeads: 2, keyDim: 4, temperature: 0.8 }, 8],
    ["learned τ (softplus), causal", { numHeads: 2, keyDim: 4, temperatureMode: "learned", causal: true }, 9],
    ["learned τ (exp), valueDim and outputDim", { numHeads: 2, keyDim: 3, valueDim: 5, outputDim: 6, temperatureMode: "learned", parametrization: "exp", temperature: 0.9 }, 9],
    ["ssmax", { numHeads: 2, keyDim: 4, temperatureMode: "ssmax", ssmaxS: 0.5, ssmaxB: 0.1, causal: true }, 9],
    ["log-n", { numHeads: 2, keyDim: 4, temperatureMode: "log-n", trainLength: 3, causal: true }, 8],
  ];
  for (const [label, args, weights] of small ? variants.slice(1, 2) : variants) {
    it(`runLayerTest: ${label}`, async () => {
      await runLayerTest({ make: () => new TempScaleAttention(args), inputShape: [5, 8], expectedWeights: weights });
    });
  }

  it("equals the ops applied to its own weights (every mode); a learned τ starts at the given value", async () => {
    const x = randomPair([2, 6, 8], 3).tensor as tf.Tensor3D;
    for (const [, args] of small ? variants.slice(3, 4) : variants) {
      const layer = new TempScaleAttention(args);
      const y = layer.apply(x) as tf.Tensor;
      const want = manual(layer, x);
      await expectClose(y, want, { atol: 2e-5, rtol: 2e-4 });
      const taus = layer.temperatures();
      const expected = args.temperatureMode === "ssmax" || args.temperatureMode === "log-n" ? 1 : args.temperature ?? 1;
      await expectClose(taus, new Array(args.numHeads).fill(expected), { atol: 1e-6, rtol: 1e-6 });
      tf.dispose([y, want, taus]);
      layer.dispose();
    }
    x.dispose();
  });

  it("the gradient with respect to the learned temperature parameter matches finite differences", async () => {
    const x = randomPair([1, 5, 6], 4).tensor;
    for (const parametrization of ["softplus", "exp"] as const) {
      const layer = new TempScaleAttention({ numHeads: 2, keyDim: 3, temperatureMode: "learned", parametrization, temperature: 0.7 });
      layer.apply(x);
      const target = randomPair([1, 5, 6], 5).tensor;
      const loss = () => tf.tidy(() => (layer.apply(x) as tf.Tensor).sub(target).square().sum() as tf.Scalar);
      const theta = layer.weights[8]!;
      const { value, grads } = tf.variableGrads(loss);
      const g = await grads[theta.originalName]!.data();
      const base = await theta.read().data();
      const eps = 1e-2;
      for (let h = 0; h < 2; h++) {
        const at = async (d: number) => {
          const moved = Float32Array.from(base);
          moved[h] = moved[h]! + d;
          const t = tf.tensor1d(moved);
          theta.write(t);
          const l = loss();
          const r = (await l.data())[0]!;
          tf.dispose([t, l]);
          return r;
        };
        const numeric = ((await at(eps)) - (await at(-eps))) / (2 * eps);
        expect(Math.abs(g[h]! - numeric)).toBeLessThanOrEqual(2e-3 + 2e-2 * Math.abs(numeric));
        expect(Math.abs(numeric)).toBeGreaterThan(0);
      }
      tf.dispose([value, ...Object.values(grads), target]);
      layer.dispose();
    }
    x.dispose();
  });

  it("bad arguments throw OptionError", () => {
    const bad: [Partial<TempScaleAttentionArgs>, RegExp][] = [
      [{ numHeads: 0, keyDim: 4 }, /TempScaleAttention: numHeads/],
      [{ numHeads: 2, keyDim: 4.5 }, /keyDim/],
      [{ numHeads: 2, keyDim: 4, temperature: 0 }, /temperature/],
      [{ numHeads: 2, keyDim: 4, temperature: NaN }, /temperature/],
      [{ numHeads: 2, keyDim: 4, temperatureMode: "cold" as never }, /temperatureMode must be one of/],
      [{ numHeads: 2, keyDim: 4, temperatureMode: "learned", parametrization: "relu" as never }, /parametrization/],
      [{ numHeads: 2, keyDim: 4, temperatureMode: "log-n" }, /trainLength is required/],
      [{ numHeads: 2, keyDim: 4, temperatureMode: "log-n", trainLength: 1 }, /trainLength/],
      [{ numHeads: 2, keyDim: 4, scale: -2 }, /scale/],
      [{ numHeads: 2, keyDim: 4, heads: 3 } as never, /unknown option 'heads'/],
    ];
    for (const [args, message] of bad) {
      expect(() => new TempScaleAttention(args as TempScaleAttentionArgs)).toThrow(OptionError);
      expect(() => new TempScaleAttention(args as TempScaleAttentionArgs)).toThrow(message);
    }
  });
});
