import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { OptionError, ShapeError } from "@attnkit/core";
import {
  backendTolerance,
  checkGradients,
  describeBackends,
  expectClose,
  expectEqualInts,
  expectNoLeaks,
  fc,
  loadFixture,
  randomPair,
  toNumbers,
  toTensor,
  type FixtureTensor,
} from "@attnkit/testing";
import { attentionAwareGate, similarityAwareGate, topKGate } from "../src/index";
import { oneHotMask } from "../src/ops/select";
import { hostArray, referenceAttentionGate, referenceSimilarityGate, referenceTopKGate } from "../src/reference";

type Fixture = { inputs: Record<string, FixtureTensor>; options: Record<string, unknown>; expected: Record<string, FixtureTensor>; tolerance: { atol: number; rtol: number } };
const fixture = (name: string) => loadFixture<Fixture>(new URL(`./fixtures/${name}.json`, import.meta.url));

/** Row-stochastic random `[..., T, T]` matrix (optionally causal). */
function randomStochastic(shape: number[], seed: number, causal = false): tf.Tensor {
  return tf.tidy(() => {
    let s = randomPair(shape, seed, 2).tensor;
    if (causal) {
      const t = shape[shape.length - 1]!;
      s = tf.where(tf.linalg.bandPart(tf.ones([t, t]), -1, 0).cast("bool"), s, tf.scalar(-Infinity));
    }
    return tf.softmax(s);
  });
}

describeBackends("gates", (backend) => {
  const tol = (f: Fixture) => backendTolerance(backend, f.tolerance);

  it("topKGate matches the smoe_gate fixture", async () => {
    const f = fixture("smoe_gate_top2");
    const x = toTensor(f.inputs.x!);
    const w = toTensor(f.inputs.w_gate!);
    const g = topKGate(x, w, { topK: f.options.top_k as number, renormalize: f.options.renormalize as boolean });
    await expectEqualInts(g.indices, toNumbers(f.expected.idx!), f.expected.idx!.shape);
    await expectClose(g.combine, toNumbers(f.expected.combine!), tol(f));
    await expectClose(g.probs, toNumbers(f.expected.probs!), tol(f));
    tf.dispose([x, w, g.combine, g.indices, g.probs]);
  });

  it("similarityAwareGate matches the similarity_aware fixture", async () => {
    const f = fixture("similarity_aware_dot");
    const x = toTensor(f.inputs.x!);
    const w = toTensor(f.inputs.w_gate!);
    const g = similarityAwareGate(x, w, {
      topK: f.options.top_k as number,
      temperature: f.options.tau as number,
      kind: f.options.kind as "dot",
      causal: f.options.causal as boolean,
      renormalize: f.options.renormalize as boolean,
      weightsFrom: f.options.weights_from as "mixed",
    });
    await expectEqualInts(g.indices, toNumbers(f.expected.idx!), f.expected.idx!.shape);
    await expectClose(g.combine, toNumbers(f.expected.combine!), tol(f));
    await expectClose(g.mixedProbs, toNumbers(f.expected.mixed_probs!), tol(f));
    await expectClose(g.similarity, toNumbers(f.expected.similarity!), tol(f));
    await expectClose(g.probs, toNumbers(f.expected.probs!), tol(f));
    tf.dispose([x, w, ...Object.values(g)]);
  });

  it("attentionAwareGate matches the attention_aware fixture", async () => {
    const f = fixture("attention_aware_single");
    const x = toTensor(f.inputs.x!);
    const w = toTensor(f.inputs.w_gate!);
    const a = toTensor(f.inputs.attn!);
    const g = attentionAwareGate(x, w, a, {
      topK: f.options.top_k as number,
      headReduce: f.options.head_reduce as "mean",
      renormalize: f.options.renormalize as boolean,
      weightsFrom: f.options.weights_from as "mixed",
    });
    await expectEqualInts(g.indices, toNumbers(f.expected.idx!), f.expected.idx!.shape);
    await expectClose(g.combine, toNumbers(f.expected.combine!), tol(f));
    await expectClose(g.mixedProbs, toNumbers(f.expected.mixed_probs!), tol(f));
    tf.dispose([x, w, a, ...Object.values(g)]);
  });

  it("every gate equals the reference on random shapes and options", async () => {
    const t0 = backendTolerance(backend, { atol: 2e-5, rtol: 2e-4 });
    let seed = 100;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 1, max: 7 }),
        fc.record({ renormalize: fc.boolean(), own: fc.boolean(), logits: fc.boolean(), cosine: fc.boolean(), causal: fc.boolean(), wSim: fc.boolean(), heads: fc.integer({ min: 0, max: 3 }) }),
        async (t, d, experts, o) => {
          seed += 3;
          const topK = 1 + (seed % experts);
          const x = randomPair([t, d], seed);
          const w = randomPair([d, experts], seed + 1);
          const bias = randomPair([experts], seed + 2);
          const ws = randomPair([d, d], seed + 4, 0.5);
          const attnShape = o.heads === 0 ? [t, t] : [o.heads, t, t];
          const a = randomStochastic(attnShape, seed + 5, o.causal);
          const ahost = hostArray(attnShape, await a.data());
          const graph = { renormalize: o.renormalize, weightsFrom: o.own ? ("own" as const) : ("mixed" as const), mixing: o.logits ? ("logits" as const) : ("probs" as const) };
          const biasNums = Array.from(bias.host.data);
          const check = async (got: Record<string, tf.Tensor>, want: Record<string, { data: Float64Array }>, keys: string[]) => {
            await expectEqualInts(got.indices!, want.indices!.data);
            for (const key of keys) await expectClose(got[key]!, want[key]!.data, t0);
            tf.dispose(Object.values(got));
          };
          await check(
            topKGate(x.tensor, w.tensor, { topK, bias: bias.tensor, renormalize: o.renormalize }),
            referenceTopKGate(x.host, w.host, { topK, bias: biasNums, renormalize: o.renormalize }),
            ["combine", "probs"],
          );
          const simOpts = { topK, temperature: 0.7, kind: o.cosine ? ("cosine" as const) : ("dot" as const), causal: o.causal, ...graph };
          await check(
            similarityAwareGate(x.tensor, w.tensor, { ...simOpts, ...(o.wSim ? { wSim: ws.tensor } : {}) }),
            referenceSimilarityGate(x.host, w.host, { ...simOpts, ...(o.wSim ? { wSim: ws.host } : {}) }),
            ["combine", "probs", "mixedProbs", "similarity"],
          );
          const headReduce = o.heads > 1 && o.wSim ? ("single" as const) : ("mean" as const);
          const head = headReduce === "single" ? o.heads - 1 : 0;
          await check(
            attentionAwareGate(x.tensor, w.tensor, a, { topK, headReduce, head, bias: bias.tensor, ...graph }),
            referenceAttentionGate(x.host, w.host, ahost, { topK, headReduce, head, bias: biasNums, ...graph }),
            ["combine", "probs", "mixedProbs"],
          );
          tf.dispose([x.tensor, w.tensor, bias.tensor, ws.tensor, a]);
        },
      ),
      { numRuns: backend === "webgpu" ? 4 : 15, seed: 11 },
    );
  });

  it("attention-aware with identity attention equals plain top-k gating", async () => {
    const x = randomPair([13, 6], 1).tensor;
    const w = randomPair([6, 5], 2).tensor;
    const plain = topKGate(x, w, { topK: 2 });
    const eye = tf.eye(13);
    const heads = tf.stack([eye, eye, eye]);
    for (const a of [eye, heads]) {
      const g = attentionAwareGate(x, w, a, { topK: 2 });
      await expectEqualInts(g.indices, await plain.indices.data());
      await expectClose(g.combine, plain.combine, { atol: 1e-6, rtol: 1e-5 });
      await expectClose(g.mixedProbs, plain.probs, { atol: 1e-6, rtol: 1e-5 });
      tf.dispose(Object.values(g));
    }
    tf.dispose([x, w, eye, heads, ...Object.values(plain)]);
  });

  it("similarity-aware with cosine and τ → 0 equals plain top-k gating", async () => {
    const x = randomPair([11, 8], 3).tensor;
    const w = randomPair([8, 6], 4).tensor;
    const plain = topKGate(x, w, { topK: 3, renormalize: false });
    for (const causal of [false, true]) {
      const g = similarityAwareGate(x, w, { topK: 3, temperature: 1e-4, kind: "cosine", causal, renormalize: false });
      await expectClose(g.similarity, tf.eye(11), { atol: 1e-6, rtol: 0 });
      await expectEqualInts(g.indices, await plain.indices.data());
      await expectClose(g.combine, plain.combine, { atol: 1e-6, rtol: 1e-5 });
      tf.dispose(Object.values(g));
    }
    tf.dispose([x, w, ...Object.values(plain)]);
  });

  it("combine weights of a token sum to 1 over its chosen experts, and are zero elsewhere", async () => {
    const x = randomPair([17, 5], 5).tensor;
    const w = randomPair([5, 7], 6).tensor;
    const a = randomStochastic([2, 17, 17], 7);
    const gates = [
      topKGate(x, w, { topK: 3 }),
      similarityAwareGate(x, w, { topK: 3, temperature: 0.5, weightsFrom: "own" }),
      attentionAwareGate(x, w, a, { topK: 3, mixing: "logits" }),
    ];
    for (const g of gates) {
      await expectClose(g.combine.sum(-1), tf.ones([17]), { atol: 1e-5, rtol: 1e-5 });
      const chosen = oneHotMask(g.indices, 7).sum(1);
      expect(Array.from(await g.combine.mul(tf.scalar(1).sub(chosen)).abs().max().data())[0]).toBe(0);
      // Exactly topK positive weights per token.
      await expectEqualInts(tf.greater(g.combine, 0).sum(-1), new Array(17).fill(3));
    }
    tf.dispose([x, w, a, ...gates.flatMap((g) => Object.values(g))]);
  });

  it("causal similarity never looks ahead", async () => {
    const x = randomPair([9, 4], 8).tensor;
    const w = randomPair([4, 5], 9).tensor;
    const full = similarityAwareGate(x, w, { topK: 2, temperature: 1, causal: true });
    const upper = await full.similarity.mul(tf.linalg.bandPart(tf.ones([9, 9]), 0, -1).sub(tf.eye(9))).abs().max().data();
    expect(upper[0]).toBe(0);
    // Changing the last tokens does not change the routing of the earlier ones.
    const moved = tf.concat([x.slice([0, 0], [5, 4]), randomPair([4, 4], 10).tensor]);
    const other = similarityAwareGate(moved, w, { topK: 2, temperature: 1, causal: true });
    await expectClose(other.combine.slice([0, 0], [5, 5]), full.combine.slice([0, 0], [5, 5]), { atol: 1e-6, rtol: 1e-5 });
    await expectEqualInts(other.indices.slice([0, 0], [5, 2]), await full.indices.slice([0, 0], [5, 2]).data());
    tf.dispose([x, w, moved, ...Object.values(full), ...Object.values(other)]);
  });

  it("a fully masked (zero) attention row gives a zero combine row, never NaN", async () => {
    const x = randomPair([4, 3], 11).tensor;
    const w = randomPair([3, 4], 12).tensor;
    const a = tf.tensor2d([[1, 0, 0, 0], [0, 0, 0, 0], [0.5, 0.5, 0, 0], [0, 0, 0, 1]]);
    const g = attentionAwareGate(x, w, a, { topK: 2 });
    const c = await g.combine.array() as number[][];
    expect(c[1]).toEqual([0, 0, 0, 0]);
    expect(c.flat().every(Number.isFinite)).toBe(true);
    tf.dispose([x, w, a, ...Object.values(g)]);
  });

  it("accepts a leading batch axis (per-sequence mixing)", async () => {
    const x = randomPair([2, 6, 4], 13).tensor;
    const w = randomPair([4, 5], 14).tensor;
    const a = randomStochastic([2, 3, 6, 6], 15);
    const g = attentionAwareGate(x, w, a, { topK: 2 });
    const s = similarityAwareGate(x, w, { topK: 2, temperature: 1, causal: true });
    for (let b = 0; b < 2; b++) {
      const xb = x.slice([b, 0, 0], [1, 6, 4]).squeeze([0]);
      const gb = attentionAwareGate(xb, w, a.slice([b, 0, 0, 0], [1, 3, 6, 6]).squeeze([0]), { topK: 2 });
      const sb = similarityAwareGate(xb, w, { topK: 2, temperature: 1, causal: true });
      await expectClose(g.combine.slice([b, 0, 0], [1, 6, 5]).squeeze([0]), gb.combine, { atol: 1e-6, rtol: 1e-5 });
      await expectClose(s.combine.slice([b, 0, 0], [1, 6, 5]).squeeze([0]), sb.combine, { atol: 1e-6, rtol: 1e-5 });
      tf.dispose([xb, ...Object.values(gb), ...Object.values(sb)]);
    }
    tf.dispose([x, w, a, ...Object.values(g), ...Object.values(s)]);
  });

  if (backend !== "webgpu") {
    // Finite differences on webgpu's software renderer are slow; cpu and wasm check the same code path.
    it("gradients reach x, the router, wSim and the attention through the chosen weights", async () => {
      const x = randomPair([5, 3], 16).tensor;
      const w = randomPair([3, 4], 17).tensor;
      const ws = randomPair([3, 3], 18, 0.5).tensor;
      const a = randomStochastic([5, 5], 19);
      // A small step keeps every routing decision fixed (the decision itself is not differentiable).
      const o = { eps: 1e-3 };
      await checkGradients((xx, ww) => topKGate(xx!, ww!, { topK: 2 }).combine, [x, w], o);
      await checkGradients((xx, ww, ss) => similarityAwareGate(xx!, ww!, { topK: 2, temperature: 2, wSim: ss! }).combine, [x, w, ws], o);
      await checkGradients((xx, ww, aa) => attentionAwareGate(xx!, ww!, aa!, { topK: 2 }).combine, [x, w, a], o);
      await checkGradients((xx, ww) => similarityAwareGate(xx!, ww!, { topK: 3, temperature: 1, kind: "cosine", causal: true, mixing: "logits" }).combine, [x, w], o);
      tf.dispose([x, w, ws, a]);
    });
  }

  it("leaks nothing", async () => {
    const x = randomPair([6, 3], 20).tensor;
    const w = randomPair([3, 4], 21).tensor;
    const a = randomStochastic([2, 6, 6], 22);
    await expectNoLeaks(() => topKGate(x, w, { topK: 2 }));
    await expectNoLeaks(() => similarityAwareGate(x, w, { topK: 2, temperature: 1, kind: "cosine", causal: true }));
    await expectNoLeaks(() => attentionAwareGate(x, w, a, { topK: 2, detachAttention: true }));
    await expectNoLeaks(() => tf.grads((xx, ww) => similarityAwareGate(xx!, ww!, { topK: 2, temperature: 1 }).combine.sum())([x, w]));
    tf.dispose([x, w, a]);
  });
});

describe("gates bad input", () => {
  const x = tf.zeros([6, 3]);
  const w = tf.zeros([3, 4]);
  it("rejects topK outside [1, experts]", () => {
    expect(() => topKGate(x, w, { topK: 5 })).toThrow(OptionError);
    expect(() => topKGate(x, w, { topK: 0 })).toThrow(/topKGate: topK must be an integer in \[1, 4\]/);
    expect(() => similarityAwareGate(x, w, { topK: 5, temperature: 1 })).toThrow(/similarityAwareGate: topK/);
  });
  it("rejects mismatched shapes", () => {
    expect(() => topKGate(x, tf.zeros([4, 4]), { topK: 1 })).toThrow(ShapeError);
    expect(() => topKGate(tf.zeros([6]), w, { topK: 1 })).toThrow(/x must have rank 2 or 3/);
    expect(() => topKGate(x, w, { topK: 1, bias: tf.zeros([3]) })).toThrow(/bias must have shape \[4\]/);
    expect(() => attentionAwareGate(x, w, tf.zeros([5, 5]), { topK: 1 })).toThrow(/attentionAwareGate: attention must have shape \[heads, 6, 6\] or \[6, 6\]/);
    expect(() => attentionAwareGate(x, w, tf.zeros([2, 6, 5]), { topK: 1 })).toThrow(ShapeError);
    expect(() => similarityAwareGate(x, w, { topK: 1, temperature: 1, wSim: tf.zeros([3, 4]) })).toThrow(/wSim must have shape \[3, 3\]/);
  });
  it("rejects bad options", () => {
    expect(() => topKGate(x, w, { topK: 1, renorm: true } as never)).toThrow(/unknown option 'renorm'/);
    expect(() => similarityAwareGate(x, w, { topK: 1, temperature: 0 })).toThrow(/temperature must be a finite number > 0/);
    expect(() => similarityAwareGate(x, w, { topK: 1, temperature: 1, kind: "l2" as never })).toThrow(OptionError);
    expect(() => similarityAwareGate(x, w, { topK: 1, temperature: 1, weightsFrom: "both" as never })).toThrow(/weightsFrom/);
    expect(() => attentionAwareGate(x, w, tf.zeros([2, 6, 6]), { topK: 1, headReduce: "max" as never })).toThrow(/headReduce/);
    expect(() => attentionAwareGate(x, w, tf.zeros([2, 6, 6]), { topK: 1, headReduce: "single", head: 2 })).toThrow(/head must be an integer in \[0, 1\]/);
    expect(() => topKGate(x, w, undefined as never)).toThrow(/topK/);
  });
});
