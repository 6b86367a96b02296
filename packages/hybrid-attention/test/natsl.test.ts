import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
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
  toHost,
  toTensor,
  type FixtureTensor,
} from "@attnkit/testing";
import { OptionError, ShapeError, rmsNorm, scaledDotProductAttention } from "@attnkit/core";
import { hostArray } from "@attnkit/core/reference";
import { gatedDeltaRule } from "../src/ops/gated-delta-rule";
import { natslRoute, tokenHybridAttention } from "../src/ops/token-hybrid";
import { referenceNatslRoute, referenceTokenHybrid } from "../src/reference/natsl";

interface Case {
  name: string;
  options: { block_size: number; decay_for_non_gdn_blocks: boolean };
  inputs: Record<string, FixtureTensor>;
  expected: Record<string, FixtureTensor>;
  tolerance: { atol: number; rtol: number };
}
const cases = loadFixture<{ cases: Case[] }>(new URL("./fixtures/natsl.json", import.meta.url)).cases;

/** Random NAtS-L inputs: q, k, v, α ∈ (0.5, 1), β ∈ (0, 1), a 0/1 route from `bits`. */
function inputs(b: number, h: number, t: number, d: number, dv: number, blockSize: number, seed: number, routeOf: (i: number) => number) {
  const q = randomPair([b, h, t, d], seed);
  const k = randomPair([b, h, t, d], seed + 1);
  const v = randomPair([b, h, t, dv], seed + 2);
  const a = randomPair([b, h, t], seed + 3);
  const bt = randomPair([b, h, t], seed + 4);
  const alphaVals = Array.from(a.host.data, (x) => Math.fround(0.75 + 0.24 * x));
  const betaVals = Array.from(bt.host.data, (x) => Math.fround(0.5 + 0.49 * x));
  const n = Math.ceil(t / blockSize);
  const routeVals = Array.from({ length: b * h * n }, (_, i) => routeOf(i));
  tf.dispose([a.tensor, bt.tensor]);
  return {
    q, k, v,
    alpha: { tensor: tf.tensor(alphaVals, [b, h, t]), host: hostArray([b, h, t], alphaVals) },
    beta: { tensor: tf.tensor(betaVals, [b, h, t]), host: hostArray([b, h, t], betaVals) },
    route: { tensor: tf.tensor(routeVals, [b, h, n]), host: hostArray([b, h, n], routeVals) },
  };
}
type Inputs = ReturnType<typeof inputs>;
const disposeAll = (x: Inputs) => tf.dispose([x.q.tensor, x.k.tensor, x.v.tensor, x.alpha.tensor, x.beta.tensor, x.route.tensor]);

describeBackends("tokenHybridAttention / natslRoute", (backend) => {
  const tol = backendTolerance(backend, { atol: 5e-5, rtol: 5e-4 });
  const runs = backend === "webgpu" ? 2 : 8;

  for (const c of cases) {
    it(`matches fixture ${c.name}`, async () => {
      const I = Object.fromEntries(Object.entries(c.inputs).map(([n, t]) => [n, toTensor(t)]));
      const got = tokenHybridAttention(I.q!, I.k!, I.v!, {
        alpha: I.alpha!, beta: I.beta!, route: I.route!, blockSize: c.options.block_size, decaySoftmaxBlocks: c.options.decay_for_non_gdn_blocks,
        ...(I.w_attn ? { wAttn: I.w_attn } : {}), ...(I.w_lin ? { wLin: I.w_lin } : {}), ...(I.gate ? { gate: I.gate } : {}),
        returnBranches: true,
      });
      const t = backendTolerance(backend, c.tolerance);
      await expectClose(got.attention, toHost(c.expected.o_attn!), t);
      await expectClose(got.linear, toHost(c.expected.o_lin!), t);
      await expectClose(got.output, toHost(c.expected.y!), t);
      tf.dispose([...Object.values(I), got.output, got.attention, got.linear]);
    });
  }

  it("matches the reference on random shapes, block sizes, routes and options", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({ t: fc.integer({ min: 1, max: 11 }), bs: fc.integer({ min: 1, max: 5 }), decay: fc.boolean(), l2: fc.boolean(), gated: fc.boolean(), seed: fc.integer({ min: 1, max: 999 }) }),
        async ({ t, bs, decay, l2, gated, seed }) => {
          const x = inputs(1, 2, t, 3, 2, bs, seed, (i) => ((i * 7 + seed) % 3 === 0 ? 1 : 0));
          const gate = randomPair([1, 2, t, 2], seed + 9);
          const got = tokenHybridAttention(x.q.tensor, x.k.tensor, x.v.tensor, {
            alpha: x.alpha.tensor, beta: x.beta.tensor, route: x.route.tensor, blockSize: bs, decaySoftmaxBlocks: decay, qkL2Norm: l2, wAttn: 0.3, wLin: 0.7, returnBranches: true, ...(gated ? { gate: gate.tensor } : {}),
          });
          const ref = referenceTokenHybrid(x.q.host, x.k.host, x.v.host, {
            alpha: x.alpha.host, beta: x.beta.host, route: x.route.host, blockSize: bs, decaySoftmaxBlocks: decay, qkL2Norm: l2, wAttn: 0.3, wLin: 0.7, ...(gated ? { gate: gate.host } : {}),
          });
          await expectClose(got.attention, ref.attention, tol);
          await expectClose(got.linear, ref.linear, tol);
          await expectClose(got.output, ref.output, tol);
          tf.dispose([got.output, got.attention, got.linear, gate.tensor]);
          disposeAll(x);
        },
      ),
      { numRuns: runs },
    );
  });

  it("all-softmax routing is causal softmax attention; all-GDN routing is the gated delta rule", async () => {
    for (const bs of [1, 3]) {
      const soft = inputs(1, 2, 10, 4, 3, bs, 11 + bs, () => 1);
      const a = tokenHybridAttention(soft.q.tensor, soft.k.tensor, soft.v.tensor, { alpha: soft.alpha.tensor, beta: soft.beta.tensor, route: soft.route.tensor, blockSize: bs, returnBranches: true });
      const dense = scaledDotProductAttention(soft.q.tensor, soft.k.tensor, soft.v.tensor, { causal: true });
      await expectClose(a.attention, dense, tol);
      // Weights (0, 1): y = RMSNorm(softmax attention).
      const y = tokenHybridAttention(soft.q.tensor, soft.k.tensor, soft.v.tensor, { alpha: soft.alpha.tensor, beta: soft.beta.tensor, route: soft.route.tensor, blockSize: bs, wAttn: 1, wLin: 0 });
      const normed = rmsNorm(dense);
      await expectClose(y, normed, tol);
      const lin = tokenHybridAttention(soft.q.tensor, soft.k.tensor, soft.v.tensor, { alpha: soft.alpha.tensor, beta: soft.beta.tensor, route: tf.zerosLike(soft.route.tensor), blockSize: bs, returnBranches: true });
      const gdn = gatedDeltaRule(soft.q.tensor, soft.k.tensor, soft.v.tensor, { alpha: soft.alpha.tensor, beta: soft.beta.tensor, mode: "recurrent" });
      await expectClose(lin.linear, gdn, tol);
      tf.dispose([a.output, a.attention, a.linear, dense, y, normed, lin.output, lin.attention, lin.linear, gdn]);
      disposeAll(soft);
    }
  });

  it("with all-GDN routing and block 1 the softmax branch returns v itself", async () => {
    const x = inputs(1, 1, 6, 3, 2, 1, 5, () => 0);
    const got = tokenHybridAttention(x.q.tensor, x.k.tensor, x.v.tensor, { alpha: x.alpha.tensor, beta: x.beta.tensor, route: x.route.tensor, blockSize: 1, returnBranches: true });
    await expectClose(got.attention, x.v.tensor, tol);
    tf.dispose([got.output, got.attention, got.linear]);
    disposeAll(x);
  });

  it("natslRoute matches the reference (partial last block) and routes ties to softmax", async () => {
    const x = randomPair([2, 7, 5], 3);
    const w = randomPair([5, 6], 4);
    const { logits, route } = natslRoute(x.tensor, w.tensor, { heads: 3, blockSize: 3 });
    const ref = referenceNatslRoute(x.host, w.host, 3, 3);
    await expectClose(logits, ref.logits, tol);
    await expectEqualInts(route, ref.route.data, [2, 3, 3]);
    const zeros = tf.zeros([5, 6]);
    const tie = natslRoute(x.tensor, zeros, { heads: 3, blockSize: 3 });
    await expectEqualInts(tie.route, new Array(18).fill(1));
    tf.dispose([x.tensor, w.tensor, logits, route, zeros, tie.logits, tie.route]);
  });

  it("has gradients in q, k, v, α, β, gate and the weights", async () => {
    const x = inputs(1, 1, 5, 3, 2, 2, 17, (i) => i % 2);
    const gate = randomPair([1, 1, 5, 2], 19);
    const wA = randomPair([1, 1, 5], 20);
    await checkGradients(
      (q, k, v, a, b, g, w) => tokenHybridAttention(q!, k!, v!, { alpha: a!, beta: b!, route: x.route.tensor, blockSize: 2, gate: g!, wAttn: w!, wLin: 0.5 }),
      [x.q.tensor, x.k.tensor, x.v.tensor, x.alpha.tensor, x.beta.tensor, gate.tensor, wA.tensor],
      { eps: 1e-3, maxElements: backend === "webgpu" ? 3 : 6 },
    );
    tf.dispose([gate.tensor, wA.tensor]);
    disposeAll(x);
  });

  it("all-GDN routing has the gated delta rule's gradients in α and β (3 heads × 5 blocks of 7: a shape where WebGPU's reverse cumsum is wrong)", async () => {
    const x = inputs(1, 3, 35, 4, 3, 7, 41, () => 0);
    const r = randomPair([1, 3, 35, 3], 42);
    const ours = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tokenHybridAttention(x.q.tensor, x.k.tensor, x.v.tensor, { alpha: a, beta: b, route: x.route.tensor, blockSize: 7, returnBranches: true }).linear.mul(r.tensor).sum(),
    )([x.alpha.tensor, x.beta.tensor]);
    const recurrent = tf.grads((a: tf.Tensor, b: tf.Tensor) => gatedDeltaRule(x.q.tensor, x.k.tensor, x.v.tensor, { alpha: a, beta: b, mode: "recurrent" }).mul(r.tensor).sum())([
      x.alpha.tensor,
      x.beta.tensor,
    ]);
    for (const [i, g] of ours.entries()) await expectClose(g, recurrent[i]!, backendTolerance(backend, { atol: 1e-3, rtol: 1e-3 }));
    tf.dispose([r.tensor, ...ours, ...recurrent]);
    disposeAll(x);
  });

  it("a key scoring far above the rest (exp would overflow) after the queries changes nothing, forward or back", async () => {
    const x = inputs(1, 2, 7, 3, 2, 3, 26, () => 1);
    const q = x.q.tensor.mul(0.1).add(1);
    const k = tf.concat([x.k.tensor.slice([0, 0, 0, 0], [-1, -1, 6, -1]), tf.fill([1, 2, 1, 3], 100)], 2);
    const head = (t: tf.Tensor, n = 6) => t.slice([0, 0, 0, 0], [-1, -1, n, -1]);
    const run = (qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor, route: tf.Tensor, n: number) =>
      tokenHybridAttention(qq, kk, vv, { alpha: x.alpha.tensor.slice([0, 0, 0], [-1, -1, n]), beta: x.beta.tensor.slice([0, 0, 0], [-1, -1, n]), route, blockSize: 3, qkL2Norm: false });
    const full = head(run(q, k, x.v.tensor, x.route.tensor, 7));
    expect((await full.data()).every(Number.isFinite)).toBe(true);
    await expectClose(full, run(head(q), head(k), head(x.v.tensor), x.route.tensor.slice([0, 0, 0], [-1, -1, 2]), 6), tol);
    const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, r: tf.Tensor) => head(run(a, b, x.v.tensor, r, 7)).sum())([q, k, x.route.tensor]);
    for (const g of grads) expect((await g.data()).every(Number.isFinite)).toBe(true);
    disposeAll(x);
  });

  it("passes a straight-through gradient from the output to the router weights", async () => {
    const x = inputs(1, 2, 6, 3, 2, 2, 23, () => 1);
    const xs = randomPair([1, 6, 4], 24);
    const w = randomPair([4, 4], 25);
    const g = tf.grad((wScore: tf.Tensor) => {
      const { route } = natslRoute(xs.tensor, wScore, { heads: 2, blockSize: 2 });
      return tokenHybridAttention(x.q.tensor, x.k.tensor, x.v.tensor, { alpha: x.alpha.tensor, beta: x.beta.tensor, route, blockSize: 2 }).square().sum();
    })(w.tensor);
    const data = await g.data();
    expect(data.every(Number.isFinite)).toBe(true);
    expect(Math.max(...Array.from(data, Math.abs))).toBeGreaterThan(0);
    tf.dispose([g, xs.tensor, w.tensor]);
    disposeAll(x);
  });

  it("leaks no tensors", async () => {
    const x = inputs(1, 2, 7, 3, 2, 3, 29, (i) => i % 2);
    await expectNoLeaks(() => tokenHybridAttention(x.q.tensor, x.k.tensor, x.v.tensor, { alpha: x.alpha.tensor, beta: x.beta.tensor, route: x.route.tensor, blockSize: 3, returnBranches: true }));
    const xs = randomPair([1, 7, 4], 30);
    const w = randomPair([4, 4], 31);
    await expectNoLeaks(() => natslRoute(xs.tensor, w.tensor, { heads: 2, blockSize: 3 }));
    tf.dispose([xs.tensor, w.tensor]);
    disposeAll(x);
  });

  it("rejects bad input clearly", () => {
    const x = inputs(1, 2, 7, 3, 2, 3, 37, () => 1);
    const base = { alpha: x.alpha.tensor, beta: x.beta.tensor, route: x.route.tensor, blockSize: 3 };
    const { q, k, v } = { q: x.q.tensor, k: x.k.tensor, v: x.v.tensor };
    const badRoute = tf.ones([1, 2, 2]);
    const badAlpha = tf.ones([1, 2, 6]);
    const badGate = tf.ones([1, 2, 7, 3]);
    expect(() => tokenHybridAttention(q, k, v, { ...base, route: badRoute })).toThrow(/tokenHybridAttention: route must have shape \[1, 2, 3\]/);
    expect(() => tokenHybridAttention(q, k, v, { ...base, route: badRoute })).toThrow(ShapeError);
    expect(() => tokenHybridAttention(q, k, v, { ...base, alpha: badAlpha })).toThrow(/alpha must have shape \[1, 2, 7\]/);
    expect(() => tokenHybridAttention(q, k, v, { ...base, gate: badGate })).toThrow(/gate must broadcast/);
    expect(() => tokenHybridAttention(q, k, v, { ...base, blockSize: 0 })).toThrow(OptionError);
    expect(() => tokenHybridAttention(q, k, v, { ...base, wAttn: Number.NaN })).toThrow(OptionError);
    expect(() => tokenHybridAttention(q, k, v, { ...base, blocksize: 3 } as never)).toThrow(/unknown option 'blocksize'/);
    const xs = tf.ones([1, 7, 4]);
    const w = tf.ones([4, 5]);
    expect(() => natslRoute(xs, w, { heads: 2, blockSize: 3 })).toThrow(/natslRoute: wScore must have shape \[4, 4\]/);
    expect(() => natslRoute(xs, tf.ones([4, 4]), { heads: 0, blockSize: 3 })).toThrow(OptionError);
    tf.dispose([badRoute, badAlpha, badGate, xs, w]);
    disposeAll(x);
  });
});
