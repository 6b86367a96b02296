import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import { OptionError } from "@attnkit/core";
import { describeBackends, expectClose, expectNoLeaks, randomPair, runLayerTest } from "@attnkit/testing";
import { BiLevelRoutingAttention, BlockRoutingAttention } from "../src/index";

describeBackends("routing layers", (backend) => {
  const tol = backend === "webgpu" ? { atol: 1e-4, rtol: 1e-3 } : { atol: 1e-5, rtol: 1e-4 };

  it("BiLevelRoutingAttention passes the layer checks", async () => {
    await runLayerTest({ make: () => new BiLevelRoutingAttention({ heads: 2, grid: 2, topK: 2, lceKernel: 3 }), inputShape: [4, 4, 8], expectedWeights: 6, tolerance: tol });
  });

  it("BiLevelRoutingAttention without LCE and with per-head routing", async () => {
    // With topK 1 over 4 regions, an Adam step of 1e-2 can flip a region
    // choice (routing is not differentiated), and the loss jumps; a smaller step stays in the smooth part.
    await runLayerTest({ make: () => new BiLevelRoutingAttention({ heads: 2, grid: 2, topK: 1, lceKernel: 0, qkDim: 4, routing: "per-head" }), inputShape: [4, 2, 6], expectedWeights: 4, tolerance: tol, learningRate: 1e-3 });
  });

  it("BlockRoutingAttention passes the layer checks", async () => {
    await runLayerTest({ make: () => new BlockRoutingAttention({ heads: 2, blockSize: 3, topK: 2 }), inputShape: [10, 8], expectedWeights: 4, tolerance: tol });
  });

  it("cached generation equals the full forward pass (token by token and in chunks)", async () => {
    const layer = new BlockRoutingAttention({ heads: 2, blockSize: 3, topK: 2 });
    const x = randomPair([2, 11, 8], 5).tensor;
    const full = layer.apply(x) as tf.Tensor;
    for (const chunks of [[1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], [4, 1, 3, 3]]) {
      let cache = layer.initCache();
      const outs: tf.Tensor[] = [];
      let at = 0;
      for (const n of chunks) {
        const xs = x.slice([0, at, 0], [-1, n, -1]);
        const r = layer.step(xs, cache);
        cache = r.cache;
        outs.push(r.output);
        xs.dispose();
        at += n;
      }
      const joined = tf.concat(outs, 1);
      await expectClose(joined, full, tol);
      tf.dispose([...outs, joined, cache.k!, cache.v!]);
    }
    const head = x.slice([0, 0, 0], [-1, 2, -1]);
    await expectNoLeaks(() => {
      const r = layer.step(head, layer.initCache());
      return [r.output, r.cache.k, r.cache.v];
    });
    tf.dispose([x, full, head]);
  });

  it("layers reject bad configurations", () => {
    expect(() => new BlockRoutingAttention({ heads: 0, blockSize: 3, topK: 2 })).toThrow(OptionError);
    expect(() => new BiLevelRoutingAttention({ heads: 2, grid: 2, topK: 1, lceKernel: 4 })).toThrow(/lceKernel must be odd/);
    const layer = new BiLevelRoutingAttention({ heads: 2, grid: 3, topK: 1 });
    expect(() => layer.apply(tf.input({ shape: [4, 4, 8] }))).toThrow(/grid must divide height 4 and width 4/);
  });
});
