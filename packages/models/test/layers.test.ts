// The models package's own layers: the standard layer checks, the attention cache equal to the full
// call, gradients through the layers, and whole dense models against the float64 reference (random
// sizes, odd lengths). Small shapes, so webgpu runs too.
import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import { OptionError, ShapeError, causalConv1d } from "@attnkit/core";
import type { HostArray } from "@attnkit/core/reference";
import { backendTolerance, checkGradients, describeBackends, expectClose, expectNoLeaks, fc, randomPair, runLayerTest } from "@attnkit/testing";
import { BaseConv, FeedForward, PatchEmbedding, PositionEmbedding, RMSNorm, SelfAttention, TokenEmbedding, defineModel, lmLoss, type ModelSpec } from "../src/index";
import { referenceModel } from "../src/reference";
import { tokenRows } from "./helpers";

async function hostWeights(model: tf.LayersModel): Promise<Record<string, HostArray>> {
  const out: Record<string, HostArray> = {};
  for (const w of model.weights) out[w.originalName] = { shape: [...w.shape] as number[], data: Float64Array.from(await w.read().data()) };
  return out;
}

describeBackends("models layers", (backend) => {
  const small = backend === "webgpu";

  it("RMSNorm, FeedForward, SelfAttention, TokenEmbedding and PositionEmbedding pass the layer checks", async () => {
    await runLayerTest({ make: () => new RMSNorm({ eps: 1e-5 }), inputShape: [5, 6], expectedWeights: 1 });
    await runLayerTest({ make: () => new FeedForward({ hiddenUnits: 8, activation: "silu" }), inputShape: [5, 6], expectedWeights: 4 });
    await runLayerTest({ make: () => new SelfAttention({ numHeads: 2, keyDim: 4, rope: true, window: 3 }), inputShape: [small ? 5 : 7, 6], expectedWeights: 4 });
    await runLayerTest({ make: () => new TokenEmbedding({ vocabSize: 11, dModel: 6 }), inputShape: [5], inputDtype: "int32", intRange: 11, expectedWeights: 1 });
    await runLayerTest({ make: () => new PositionEmbedding({ maxLength: 9, dModel: 6 }), inputShape: [5, 6], expectedWeights: 1 });
    await runLayerTest({ make: () => new PatchEmbedding({ patchSize: 2, dModel: 5 }), inputShape: [4, 6, 3], expectedWeights: 2 });
    await runLayerTest({ make: () => new BaseConv({ kernelSize: 3 }), inputShape: [5, 6], expectedWeights: 4 });
  });

  it("BaseConv is Zoology's gated short convolution: conv(u) ⊙ (u·W + b) + u, with torch's initial ranges", async () => {
    const layer = new BaseConv({ kernelSize: 3, seed: 2 });
    const { tensor: u } = randomPair([2, 5, 4], 6);
    const y = layer.apply(u) as tf.Tensor;
    const [kernel, convBias, projection, projectionBias] = layer.getWeights() as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    expect(kernel.shape).toEqual([3, 4]);
    expect(projection.shape).toEqual([4, 4]);
    const gate = u.reshape([10, 4]).matMul(projection).add(projectionBias).reshape([2, 5, 4]);
    await expectClose(y, causalConv1d(u, kernel, { bias: convBias }).mul(gate).add(u), backendTolerance(backend, { atol: 1e-5, rtol: 1e-4 }));
    // Taps U(±1/√k), projection U(±1/√d).
    expect((await kernel.abs().max().data())[0]).toBeLessThanOrEqual(1 / Math.sqrt(3));
    expect((await projection.abs().max().data())[0]).toBeLessThanOrEqual(1 / Math.sqrt(4));
    // Causal: changing the last token leaves the earlier outputs alone.
    const changed = tf.concat([u.slice([0, 0, 0], [2, 4, 4]), tf.ones([2, 1, 4])], 1);
    await expectClose((layer.apply(changed) as tf.Tensor).slice([0, 0, 0], [2, 4, 4]), y.slice([0, 0, 0], [2, 4, 4]), { atol: 0, rtol: 0 });
  });

  it("BaseConv: cached pieces equal one full call, without leaks; gradients match finite differences", async () => {
    for (const kernelSize of [1, 3, 4]) {
      const layer = new BaseConv({ kernelSize, seed: 3 });
      const { tensor: x } = randomPair([2, 7, 5], 4);
      const full = layer.apply(x) as tf.Tensor;
      let cache = null as ReturnType<BaseConv["callWithCache"]>["cache"] | null;
      const outs: tf.Tensor[] = [];
      for (const [start, size] of [[0, 1], [1, 4], [5, 2]] as const) {
        const r = layer.callWithCache(x.slice([0, start, 0], [2, size, 5]), cache);
        cache?.history.dispose();
        cache = r.cache;
        outs.push(r.output);
      }
      await expectClose(tf.concat(outs, 1), full, backendTolerance(backend, { atol: 1e-5, rtol: 1e-4 }));
      const piece = x.slice([0, 0, 0], [2, 2, 5]);
      await expectNoLeaks(() => {
        const r = layer.callWithCache(piece, cache);
        return [r.output, r.cache.history];
      });
    }
    const layer = new BaseConv({ seed: 5 });
    await checkGradients((t) => layer.apply(t) as tf.Tensor, [randomPair([1, 4, 3], 6).tensor]);
  });

  it("SelfAttention: cached pieces equal one full call, without leaks", async () => {
    for (const rope of [false, true]) {
      const layer = new SelfAttention({ numHeads: 2, keyDim: 4, rope, seed: 1 });
      const { tensor: x } = randomPair([2, 7, 6], 3);
      const full = layer.apply(x) as tf.Tensor;
      const parts = [x.slice([0, 0, 0], [-1, 4, -1]), x.slice([0, 4, 0], [-1, 1, -1]), x.slice([0, 5, 0], [-1, 2, -1])];
      const outs: tf.Tensor[] = [];
      let cache = null;
      for (const p of parts) {
        const r = layer.callWithCache(p, cache);
        if (cache) tf.dispose([cache.k, cache.v]);
        cache = r.cache;
        outs.push(r.output);
      }
      await expectClose(tf.concat(outs, 1), full, backendTolerance(backend, { atol: 1e-5, rtol: 1e-4 }));
      await expectNoLeaks(() => {
        const r = layer.callWithCache(parts[1]!, cache);
        return [r.output, r.cache.k, r.cache.v];
      });
    }
  });

  it("SelfAttention returns its weights as a second output when asked", async () => {
    const layer = new SelfAttention({ numHeads: 2, keyDim: 3, causal: true, returnWeights: true });
    const [y, w] = layer.apply(randomPair([1, 4, 6], 2).tensor) as tf.Tensor[];
    expect(y!.shape).toEqual([1, 4, 6]);
    expect(w!.shape).toEqual([1, 2, 4, 4]);
    const rows = (await w!.sum(-1).data()) as Float32Array;
    rows.forEach((s) => expect(s).toBeCloseTo(1, 5));
    const upper = (await w!.slice([0, 0, 0, 1], [1, 2, 1, 3]).data()) as Float32Array;
    upper.forEach((v) => expect(v).toBe(0));
  });

  it("gradients of SelfAttention and FeedForward match finite differences", async () => {
    const att = new SelfAttention({ numHeads: 2, keyDim: 2, rope: true, seed: 2 });
    const ffn = new FeedForward({ hiddenUnits: 5, seed: 2 });
    const { tensor: x } = randomPair([1, 3, 4], 5);
    await checkGradients((t) => att.apply(t) as tf.Tensor, [x]);
    await checkGradients((t) => ffn.apply(t) as tf.Tensor, [x]);
  });

  it("PatchEmbedding flattens each p × p patch row-major with its channels, as a strided convolution", async () => {
    const layer = new PatchEmbedding({ patchSize: 2, dModel: 3, seed: 1 });
    const x = randomPair([1, 4, 6, 2], 4).tensor;
    const y = layer.apply(x) as tf.Tensor;
    const [kernel, bias] = layer.getWeights();
    // The same map as a VALID conv with stride 2 whose filter is the kernel reshaped to [2, 2, C, d].
    const conv = tf.conv2d(x as tf.Tensor4D, kernel!.reshape([2, 2, 2, 3]) as tf.Tensor4D, 2, "valid").add(bias!);
    await expectClose(y, conv, backendTolerance(backend, { atol: 1e-5, rtol: 1e-4 }));
    expect(() => layer.apply(tf.zeros([1, 5, 6, 2]))).toThrow(ShapeError);
  });

  it("bad layer arguments throw OptionError / ShapeError", () => {
    expect(() => new SelfAttention({ numHeads: 0, keyDim: 2 })).toThrow(OptionError);
    expect(() => new FeedForward({ hiddenUnits: 4, activation: "tanh" as "gelu" })).toThrow(/FeedForward.*activation/);
    expect(() => new RMSNorm({ eps: 0 })).toThrow(/RMSNorm.*eps/);
    expect(() => new BaseConv({ kernelSize: 0 })).toThrow(/BaseConv.*kernelSize/);
    const pos = new PositionEmbedding({ maxLength: 3, dModel: 2 });
    expect(() => pos.apply(tf.zeros([1, 4, 2]))).toThrow(ShapeError);
  });

  it("dense decoder and encoder match the float64 reference (random sizes, odd lengths)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({ heads: fc.integer({ min: 1, max: 2 }), headDim: fc.constantFrom(2, 4), numLayers: fc.integer({ min: 1, max: 2 }), seq: fc.integer({ min: 1, max: small ? 5 : 9 }), batch: fc.integer({ min: 1, max: 2 }), encoder: fc.boolean(), rope: fc.boolean() }),
        async (c) => {
          const spec: ModelSpec = {
            version: 1, family: c.encoder ? "encoder" : "decoder", vocabSize: 13, seqLen: 16, dModel: c.heads * c.headDim, heads: c.heads, numLayers: c.numLayers,
            position: c.rope ? "rope" : "none", seed: c.seq,
          };
          const model = defineModel(spec);
          const ids = tokenRows(c.batch, c.seq - 1, 13, c.heads).map((r) => r.slice(0, c.seq));
          const got = model.predict(tf.tensor2d(ids, undefined, "int32")) as tf.Tensor;
          const want = referenceModel(ids, await hostWeights(model), { family: spec.family, heads: c.heads, numLayers: c.numLayers, rope: c.rope });
          await expectClose(got, { data: want.data, shape: want.shape }, backendTolerance(backend, { atol: 2e-5, rtol: 2e-4 }));
          model.dispose();
        },
      ),
      { numRuns: small ? 2 : 5, seed: 17 },
    );
  });

  it("lmLoss ignores negative labels and equals the mean negative log-likelihood", async () => {
    const logits = tf.tensor3d([[[0, 1, 2], [2, 0, 0]]]);
    const loss = lmLoss(tf.tensor2d([[2, -100]], undefined, "int32"), logits);
    const expected = -(2 - Math.log(1 + Math.E + Math.E ** 2));
    await expectClose(loss, expected, { atol: 1e-5, rtol: 1e-5 });
  });
});
