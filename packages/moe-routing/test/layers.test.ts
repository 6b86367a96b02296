import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { OptionError, ShapeError } from "@attnkit/core";
import { describeBackends, expectClose, expectNoLeaks, randomPair, runLayerTest } from "@attnkit/testing";
import { AttentionMoEBlock, MoE, attentionAwareGate, moeForward, similarityAwareGate, topKGate } from "../src/index";

const small = { hiddenUnits: 6, numExperts: 4, topK: 2, seed: 1 };

/** The layer's weights by name. */
const weight = (layer: tf.layers.Layer, name: string) => layer.weights.find((w) => w.originalName.endsWith(name))!.read();
/** The per-expert weights stacked to moeForward's `[E, ...]` layout. */
const stacked = (layer: tf.layers.Layer, part: string) => tf.stack(layer.weights.filter((w) => /expert\d+_/.test(w.originalName) && w.originalName.endsWith(`_${part}`)).map((w) => w.read()));

describeBackends("layers", (backend) => {
  const routers = backend === "webgpu" ? (["attention"] as const) : (["softmax", "similarity", "attention"] as const);
  for (const router of routers) {
    it(`MoE (router '${router}') passes the layer test`, async () => {
      await runLayerTest({
        make: () => new MoE({ ...small, router, learnSimilarity: router === "similarity" }),
        inputShape: router === "attention" ? [[5, 4], [2, 5, 5]] : [5, 4],
        expectedWeights: router === "similarity" ? 19 : 18, // gate kernel and bias, 4 per expert (+ W_s)
      });
    });
  }

  it("AttentionMoEBlock passes the layer test", async () => {
    await runLayerTest({ make: () => new AttentionMoEBlock({ ...small, numHeads: 2 }), inputShape: [5, 4], expectedWeights: 24 }); // norms and projections (6), gate (2), 4 per expert
  });

  it("MoE equals the functional gate + moeForward for each router", async () => {
    const x = randomPair([2, 5, 4], 1).tensor;
    const attn = tf.softmax(randomPair([2, 3, 5, 5], 2, 2).tensor);
    for (const router of ["softmax", "similarity", "attention"] as const) {
      const layer = new MoE({ ...small, router, capacityFactor: null, temperature: 0.5, residual: false });
      const got = layer.apply(router === "attention" ? [x, attn] : x) as tf.Tensor;
      const wg = weight(layer, "gate_kernel");
      const bias = weight(layer, "gate_bias");
      const experts = { w1: stacked(layer, "w1"), w2: stacked(layer, "w2"), b1: stacked(layer, "b1"), b2: stacked(layer, "b2") };
      for (let b = 0; b < 2; b++) {
        const xb = x.slice([b, 0, 0], [1, 5, 4]).squeeze([0]);
        const ab = attn.slice([b, 0, 0, 0], [1, 3, 5, 5]).squeeze([0]);
        const g =
          router === "softmax"
            ? topKGate(xb, wg, { topK: 2, bias })
            : router === "similarity"
              ? similarityAwareGate(xb, wg, { topK: 2, bias, temperature: 0.5 })
              : attentionAwareGate(xb, wg, ab, { topK: 2, bias });
        const want = moeForward(xb, experts, g.combine, { activation: "gelu-tanh" }) as tf.Tensor;
        await expectClose(got.slice([b, 0, 0], [1, 5, 4]).squeeze([0]), want, { atol: 1e-5, rtol: 1e-4 });
        tf.dispose([xb, ab, want, ...Object.values(g)]);
      }
      const stats = (await layer.routingStats())!;
      expect(stats.dropped).toBe(0);
      expect(stats.assignments).toBe(20);
      expect(stats.load.reduce((a, v) => a + v, 0)).toBeCloseTo(1, 5);
      expect(stats.entropy).toBeGreaterThan(0);
      tf.dispose([got, ...Object.values(experts)]);
      layer.dispose();
    }
    tf.dispose([x, attn]);
  });

  it("capacity drops are counted and the dropped tokens pass through the residual", async () => {
    const x = randomPair([1, 16, 4], 3).tensor;
    const layer = new MoE({ ...small, numExperts: 4, topK: 1, capacityFactor: 0.25 });
    const y = layer.apply(x) as tf.Tensor;
    const stats = (await layer.routingStats())!;
    // Capacity ceil(0.25·16·1/4) = 1 per expert: at most 4 of the 16 assignments are served.
    expect(stats.dropped).toBeGreaterThanOrEqual(12);
    const unchanged = await tf.equal(y, x).all(-1).cast("int32").sum().data();
    expect(unchanged[0]).toBe(stats.dropped);
    // Deterministic: the same call drops the same tokens.
    const again = layer.apply(x) as tf.Tensor;
    await expectClose(again, y, { atol: 0, rtol: 0 });
    tf.dispose([x, y, again]);
    layer.dispose();
  });

  it("adds the load-balancing and z-losses to the training loss of model.fit", async () => {
    const x = randomPair([4, 6, 4], 4).tensor;
    const target = randomPair([4, 6, 4], 5).tensor;
    const layer = new MoE({ ...small, balanceLossWeight: 0.5, zLossWeight: 0.1 });
    const input = tf.input({ shape: [6, 4] });
    const model = tf.model({ inputs: input, outputs: layer.apply(input) as tf.SymbolicTensor });
    model.compile({ optimizer: tf.train.sgd(0), loss: "meanSquaredError" });
    const pred = model.predict(x) as tf.Tensor;
    const mse = (await tf.losses.meanSquaredError(target, pred).data())[0]!;
    const s = (await layer.routingStats())!;
    const history = await model.fit(x, target, { epochs: 1, batchSize: 4, verbose: 0, shuffle: false });
    const loss = history.history.loss![0] as number;
    expect(loss).toBeCloseTo(mse + 0.5 * s.balanceLoss + 0.1 * s.zLoss, 4);
    expect(0.5 * s.balanceLoss).toBeGreaterThan(0.1);
    // The aux loss alone moves the router: one SGD step on it lowers it.
    const aux = layer.auxLoss();
    const before = (await aux.data())[0]!;
    aux.dispose();
    const noData = tf.model({ inputs: input, outputs: layer.apply(input) as tf.SymbolicTensor });
    noData.compile({ optimizer: tf.train.sgd(0.5), loss: () => tf.scalar(0) });
    await noData.fit(x, target, { epochs: 3, batchSize: 4, verbose: 0 });
    (noData.predict(x) as tf.Tensor).dispose();
    const after = layer.auxLoss();
    expect((await after.data())[0]!).toBeLessThan(before);
    tf.dispose([x, target, pred, after]);
    model.dispose();
  });

  it("gradients reach the router, the experts and the attention", async () => {
    const x = randomPair([2, 5, 4], 6).tensor;
    const block = new AttentionMoEBlock({ ...small, numHeads: 2, capacityFactor: null });
    block.apply(x);
    const { value, grads } = tf.variableGrads(() => (block.apply(x) as tf.Tensor).square().mean() as tf.Scalar);
    for (const name of ["gate_kernel", "_w1", "_w2", "_b1", "_b2", "wq", "wk", "wv", "wo", "norm2"]) {
      const g = Object.entries(grads).find(([k]) => k.endsWith(name))![1];
      expect((await g.abs().sum().data())[0], name).toBeGreaterThan(0);
    }
    tf.dispose([x, value, ...Object.values(grads)]);
    block.dispose();
  });

  it("leaks nothing in calls and training steps", async () => {
    const x = randomPair([2, 5, 4], 7).tensor;
    const layer = new MoE({ ...small, router: "similarity", causal: true });
    layer.apply(x);
    await expectNoLeaks(() => layer.apply(x));
    await expectNoLeaks(() => {
      const { value, grads } = tf.variableGrads(() => (layer.apply(x) as tf.Tensor).sum().add(layer.auxLoss()) as tf.Scalar);
      return [value, ...Object.values(grads)];
    });
    tf.dispose(x);
    layer.dispose();
  });
});

describe("layers bad input", () => {
  it("rejects bad options and shapes", () => {
    expect(() => new MoE({ hiddenUnits: 4, numExperts: 4, topK: 5 })).toThrow(/MoE: topK must be an integer in \[1, 4\]/);
    expect(() => new MoE({ hiddenUnits: 4, router: "hash" as never })).toThrow(OptionError);
    expect(() => new MoE({ hiddenUnits: 4, experts: 3 } as never)).toThrow(/unknown option 'experts'/);
    expect(() => new MoE({ hiddenUnits: 4, capacityFactor: 0 })).toThrow(/capacityFactor/);
    expect(() => new AttentionMoEBlock({ hiddenUnits: 4, numHeads: 0 })).toThrow(/numHeads/);
    const moe = new MoE({ hiddenUnits: 4, router: "attention" });
    expect(() => moe.apply([tf.zeros([1, 5, 4]), tf.zeros([1, 2, 5, 4])])).toThrow(/MoE: attention must have shape \[1, heads, 5, 5\] or \[1, 5, 5\]/);
    expect(() => new MoE({ hiddenUnits: 4 }).apply(tf.zeros([5, 4]))).toThrow(ShapeError);
    expect(() => new AttentionMoEBlock({ hiddenUnits: 4, numHeads: 3 }).apply(tf.zeros([1, 5, 4]))).toThrow(/divisible by numHeads/);
  });
});
