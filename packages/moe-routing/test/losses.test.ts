import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { OptionError, ShapeError } from "@attnkit/core";
import { backendTolerance, checkGradients, describeBackends, expectClose, expectNoLeaks, fc, loadFixture, randomPair, toNumbers, toTensor, type FixtureTensor } from "@attnkit/testing";
import { loadBalancingLoss, routerZLoss, routingEntropy, routingFluctuation, topKGate } from "../src/index";
import { hostArray, referenceLoadBalancingLoss, referenceRoutingEntropy } from "../src/reference";

type Fixture = { inputs: Record<string, FixtureTensor>; options: Record<string, unknown>; expected: Record<string, FixtureTensor>; tolerance: { atol: number; rtol: number } };
const fixture = (name: string) => loadFixture<Fixture>(new URL(`./fixtures/${name}.json`, import.meta.url));

describeBackends("losses and routing statistics", (backend) => {
  it("load-balancing losses and entropy match the smoe_gate fixture", async () => {
    const f = fixture("smoe_gate_top2");
    const tol = backendTolerance(backend, f.tolerance);
    const x = toTensor(f.inputs.x!);
    const w = toTensor(f.inputs.w_gate!);
    const g = topKGate(x, w, { topK: 2 });
    await expectClose(loadBalancingLoss(g.probs, g.indices), toNumbers(f.expected.load_balancing_loss_switch!), tol);
    await expectClose(loadBalancingLoss(g.probs, g.indices, { variant: "switch" }), toNumbers(f.expected.load_balancing_loss_switch!), tol);
    await expectClose(loadBalancingLoss(g.probs, g.indices, { variant: "topk" }), toNumbers(f.expected.load_balancing_loss_topk!), tol);
    await expectClose(routingEntropy(g.probs), toNumbers(f.expected.routing_entropy!), tol);
    tf.dispose([x, w, ...Object.values(g)]);
  });

  it("routingFluctuation matches the routing_fluctuation fixture", async () => {
    const f = fixture("routing_fluctuation_0");
    const a = toTensor(f.inputs.idx_a!);
    const b = toTensor(f.inputs.idx_b!);
    const r = await routingFluctuation(a, b);
    expect(r.top1).toBeCloseTo(toNumbers(f.expected.top1!)[0]!, 6);
    expect(r.set).toBeCloseTo(toNumbers(f.expected.set!)[0]!, 6);
    expect(await routingFluctuation(a, a)).toEqual({ top1: 0, set: 0 });
    // Swapping the slots changes the top-1 expert but not the set.
    const swapped = tf.reverse(a, 1);
    const s = await routingFluctuation(a, swapped);
    expect(s.set).toBe(0);
    tf.dispose([a, b, swapped]);
  });

  it("equals the reference on random routings; 1 when uniform; gradients reach probs", async () => {
    const tol = backendTolerance(backend, { atol: 2e-5, rtol: 2e-4 });
    let seed = 500;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 13 }), fc.integer({ min: 1, max: 7 }), async (t, e) => {
        seed += 5;
        const topK = 1 + (seed % e);
        const g = topKGate(randomPair([t, 4], seed).tensor, randomPair([4, e], seed + 1, 2).tensor, { topK });
        const probs = hostArray([t, e], await g.probs.data());
        const idx = hostArray([t, topK], await g.indices.data());
        for (const variant of ["switch", "topk"] as const) {
          await expectClose(loadBalancingLoss(g.probs, g.indices, { variant }), referenceLoadBalancingLoss(probs, idx, variant), tol);
        }
        await expectClose(routingEntropy(g.probs), referenceRoutingEntropy(probs), tol);
        tf.dispose(Object.values(g));
      }),
      { numRuns: backend === "webgpu" ? 4 : 20, seed: 9 },
    );
    const uniform = tf.fill([8, 4], 0.25);
    const idx = tf.tensor2d([0, 1, 1, 2, 2, 3, 3, 0, 0, 1, 1, 2, 2, 3, 3, 0], [8, 2], "int32");
    await expectClose(loadBalancingLoss(uniform, idx), 1, { atol: 1e-6 });
    await expectClose(loadBalancingLoss(uniform, idx, { variant: "topk" }), 1, { atol: 1e-6 });
    await expectClose(routingEntropy(uniform), Math.log(4), { atol: 1e-6 });
    await expectClose(routingEntropy(tf.zeros([2, 4])), 0, { atol: 0 });
    if (backend !== "webgpu") {
      const p = tf.softmax(randomPair([8, 4], 70).tensor);
      await checkGradients((q) => loadBalancingLoss(q!, idx, { variant: "topk" }), [p]);
      await checkGradients((q) => routingEntropy(tf.softmax(q!)), [p]);
      await checkGradients((q) => routerZLoss(q!), [p]);
      p.dispose();
    }
    tf.dispose([uniform, idx]);
  });

  it("leaks nothing", async () => {
    const p = tf.softmax(randomPair([5, 3], 80).tensor);
    const idx = tf.tensor2d([0, 1, 2, 0, 1, 2, 0, 1, 2, 0], [5, 2], "int32");
    await expectNoLeaks(() => loadBalancingLoss(p, idx));
    await expectNoLeaks(() => routingEntropy(p));
    await expectNoLeaks(() => routerZLoss(p));
    await expectNoLeaks(() => routingFluctuation(idx, idx));
    tf.dispose([p, idx]);
  });
});

describe("losses bad input", () => {
  it("rejects mismatched shapes and options", async () => {
    const p = tf.zeros([5, 3]);
    expect(() => loadBalancingLoss(p, tf.zeros([4, 2], "int32"))).toThrow(/loadBalancingLoss: indices must be an int32 tensor of shape \[5, k\]/);
    expect(() => loadBalancingLoss(p, tf.zeros([5, 2]))).toThrow(ShapeError);
    expect(() => loadBalancingLoss(p, tf.zeros([5, 2], "int32"), { variant: "gshard" as never })).toThrow(OptionError);
    expect(() => routingEntropy(tf.scalar(1))).toThrow(/routingEntropy: probs must have rank/);
    await expect(routingFluctuation(tf.zeros([5, 2], "int32"), tf.zeros([4, 2], "int32"))).rejects.toThrow(/indicesB must have the shape of indicesA \[5, 2\]/);
  });
});
