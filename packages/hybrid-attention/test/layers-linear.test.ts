import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { OptionError } from "@attnkit/core";
import { describeBackends, expectClose, randomPair, runLayerTest } from "@attnkit/testing";
import { GatedDeltaNet, LightningAttention, LinearAttention } from "../src/index";
import type { RecurrentCache } from "../src/ops/projection";

type CachedLayer = tf.layers.Layer & { callWithCache: (x: tf.Tensor, cache?: RecurrentCache | null) => { output: tf.Tensor; cache: RecurrentCache } };

// Full forward = two pieces with the carried cache = token by token.
async function expectCacheEqualsFull(layer: CachedLayer, x: tf.Tensor, tol = { atol: 2e-5, rtol: 2e-4 }): Promise<void> {
  const seq = x.shape[1]!;
  const full = layer.apply(x) as tf.Tensor;
  const cut = (from: number, len: number) => x.slice([0, from, 0], [-1, len, -1]);
  const a = layer.callWithCache(cut(0, 5));
  const b = layer.callWithCache(cut(5, seq - 5), a.cache);
  await expectClose(tf.concat([a.output, b.output], 1), full, tol);
  let cache: RecurrentCache | null = null;
  const steps: tf.Tensor[] = [];
  for (let t = 0; t < seq; t++) {
    const r = layer.callWithCache(cut(t, 1), cache);
    if (cache) tf.dispose([cache.state.s, ...(cache.state.z ? [cache.state.z] : []), ...(cache.conv ?? [])]);
    cache = r.cache;
    steps.push(r.output);
  }
  expect(cache!.position).toBe(seq);
  await expectClose(tf.concat(steps, 1), full, tol);
}

describeBackends("layers", (backend) => {
  const small = backend === "webgpu";
  it("LinearAttention passes the layer checks; cache = full forward; modes agree", async () => {
    await runLayerTest({ make: () => new LinearAttention({ numHeads: 2, keyDim: 4, chunkSize: 4 }), inputShape: [9, 6], expectedWeights: 4 });
    const x = randomPair([2, 11, 6], 81).tensor;
    const layer = new LinearAttention({ numHeads: 2, keyDim: 4, valueDim: 3, chunkSize: 4 });
    await expectCacheEqualsFull(layer, x);
    const other = new LinearAttention({ numHeads: 2, keyDim: 4, valueDim: 3, mode: "recurrent" });
    other.build(x.shape);
    other.setWeights(layer.getWeights());
    await expectClose(other.apply(x) as tf.Tensor, layer.apply(x) as tf.Tensor, { atol: 2e-5, rtol: 2e-4 });
  });

  it("LightningAttention (with and without LRPE) passes the layer checks; cache = full forward", async () => {
    await runLayerTest({ make: () => new LightningAttention({ numHeads: 2, keyDim: 4, layers: 4, layerIndex: 1, chunkSize: 4 }), inputShape: [9, 6], expectedWeights: 5 });
    for (const useLrpe of small ? [true] : [false, true]) {
      const layer = new LightningAttention({ numHeads: 2, keyDim: 4, useLrpe, chunkSize: 3, decay: [0.9, 0.7] });
      await expectCacheEqualsFull(layer, randomPair([2, 10, 6], 82).tensor);
    }
  });

  it("GatedDeltaNet passes the layer checks; cache = full forward; modes agree", async () => {
    await runLayerTest({ make: () => new GatedDeltaNet({ numHeads: 2, keyDim: 4, chunkSize: 4 }), inputShape: [9, 6], expectedWeights: 13 });
    await runLayerTest({ make: () => new GatedDeltaNet({ numHeads: 2, keyDim: 4, chunkSize: 4, convSize: 0 }), inputShape: [9, 6], expectedWeights: 10 });
    const x = randomPair([2, 11, 6], 83).tensor;
    for (const convSize of [4, 2, 0]) {
      const layer = new GatedDeltaNet({ numHeads: 2, keyDim: 4, chunkSize: 4, convSize });
      await expectCacheEqualsFull(layer, x, { atol: 5e-5, rtol: 5e-4 });
      const other = new GatedDeltaNet({ numHeads: 2, keyDim: 4, mode: "recurrent", convSize });
      other.build(x.shape);
      other.setWeights(layer.getWeights());
      await expectClose(other.apply(x) as tf.Tensor, layer.apply(x) as tf.Tensor, { atol: 5e-5, rtol: 5e-4 });
    }
  });

  it("GatedDeltaNet's short convolutions: q, k, v = silu(causalConv1d(x·W)); a current-token tap is no convolution", async () => {
    const x = randomPair([2, 7, 6], 84).tensor;
    const plain = new GatedDeltaNet({ numHeads: 2, keyDim: 4, chunkSize: 4, convSize: 0 });
    plain.build(x.shape);
    const conv = new GatedDeltaNet({ numHeads: 2, keyDim: 4, chunkSize: 4, convSize: 3 });
    conv.build(x.shape);
    const names = conv.weights.map((w) => w.originalName.split("/").pop());
    expect(names.slice(3, 6)).toEqual(["q_conv_kernel", "k_conv_kernel", "v_conv_kernel"]);
    const kernels = conv.getWeights().slice(3, 6);
    expect(kernels.map((k) => k.shape)).toEqual([[3, 8], [3, 8], [3, 16]]);
    // torch Conv1d's initial range U(±1/√taps).
    for (const k of kernels) expect((await k.abs().max().data())[0]).toBeLessThanOrEqual(1 / Math.sqrt(3));
    const current = (width: number) => tf.concat([tf.zeros([2, width]), tf.ones([1, width])]);
    const rest = plain.getWeights();
    conv.setWeights([...rest.slice(0, 3), current(8), current(8), current(16), ...rest.slice(3)]);
    await expectClose(conv.apply(x) as tf.Tensor, plain.apply(x) as tf.Tensor, { atol: 1e-6, rtol: 1e-6 });
    // A previous-token tap changes the output, and only from the second token on.
    const previous = (width: number) => tf.concat([tf.zeros([1, width]), tf.ones([1, width]), tf.zeros([1, width])]);
    conv.setWeights([...rest.slice(0, 3), previous(8), previous(8), previous(16), ...rest.slice(3)]);
    const shifted = conv.apply(x) as tf.Tensor;
    const first = (await shifted.slice([0, 0, 0], [-1, 1, -1]).abs().max().data())[0]!;
    const base = plain.apply(x) as tf.Tensor;
    const later = (await shifted.sub(base).slice([0, 1, 0], [-1, -1, -1]).abs().max().data())[0]!;
    expect(first).toBeLessThan(1e-6); // the first token's q, k, v read only the zero padding
    expect(later).toBeGreaterThan(1e-3);
  });
});

describe("layer bad arguments", () => {
  it("throw clear errors", () => {
    expect(() => new LinearAttention({ numHeads: 0, keyDim: 4 })).toThrow(/LinearAttention: numHeads/);
    expect(() => new LinearAttention({ numHeads: 2, keyDim: 4, heads: 3 } as never)).toThrow(/unknown option 'heads'/);
    expect(() => new LightningAttention({ numHeads: 2, keyDim: 4, decay: [0.5, 1.5] })).toThrow(/decay must be 2 numbers in \(0, 1\]/);
    expect(() => new LightningAttention({ numHeads: 2, keyDim: 4, layers: 4, layerIndex: 4 })).toThrow(OptionError);
    expect(() => new GatedDeltaNet({ numHeads: 2, keyDim: 4, mode: "parallel" as never })).toThrow(/mode must be one of 'recurrent', 'chunk'/);
    expect(() => new GatedDeltaNet({ numHeads: 2, keyDim: 4, convSize: -1 })).toThrow(/GatedDeltaNet: convSize/);
    const layer = new GatedDeltaNet({ numHeads: 2, keyDim: 4 });
    layer.build([null, null, 6]);
    expect(() => layer.callWithCache(tf.zeros([1, 3, 5]))).toThrow(/input must have shape \[batch, seq, 6\]/);
  });
});
