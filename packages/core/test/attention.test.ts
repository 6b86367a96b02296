import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import {
  attentionShape,
  backendTolerance,
  checkGradients,
  describeBackends,
  expectClose,
  expectNoLeaks,
  fc,
  loadFixture,
  randomPair,
  toHost,
  toTensor,
  type FixtureTensor,
} from "@attnkit/testing";
import { OptionError, ShapeError, scaledDotProductAttention } from "../src/index";
import { hostArray, referenceAttention } from "../src/reference";

interface RoutingFixture {
  options: { causal: boolean; scale: number };
  inputs: Record<"q" | "k" | "v", FixtureTensor>;
  expected: { out: FixtureTensor };
  tolerance: { atol: number; rtol: number };
}
interface HybridCase {
  name: string;
  function: string;
  options: { causal?: boolean; window?: number; scale_resolved?: number };
  inputs: Record<string, FixtureTensor>;
  expected: Record<string, FixtureTensor>;
  tolerance: { atol: number; rtol: number };
}

const fixtures = ["dense_noncausal_s16", "dense_causal_s16"].map((name) => ({
  name,
  data: loadFixture<RoutingFixture>(new URL(`./fixtures/${name}.json`, import.meta.url)),
}));
const misc = loadFixture<{ cases: HybridCase[] }>(new URL("./fixtures/misc.json", import.meta.url)).cases.filter(
  (c) => c.function === "softmax_attention",
);

describeBackends("scaledDotProductAttention", (backend) => {
  const tol = backendTolerance(backend, { atol: 2e-5, rtol: 1e-4 });

  for (const { name, data } of fixtures) {
    it(`matches fixture ${name}`, async () => {
      const [q, k, v] = (["q", "k", "v"] as const).map((n) => toTensor(data.inputs[n]));
      const out = scaledDotProductAttention(q!, k!, v!, { causal: data.options.causal, scale: data.options.scale });
      await expectClose(out, toHost(data.expected.out), data.tolerance);
      tf.dispose([q!, k!, v!, out]);
    });
  }

  for (const c of misc) {
    it(`matches fixture ${c.name}`, async () => {
      const [q, k, v] = (["q", "k", "v"] as const).map((n) => toTensor(c.inputs[n]!));
      const opts = { causal: c.options.causal ?? false, scale: c.options.scale_resolved ?? null, ...(c.options.window ? { window: c.options.window } : {}) };
      const out = scaledDotProductAttention(q!, k!, v!, opts);
      await expectClose(out, toHost(c.expected.o!), c.tolerance);
      tf.dispose([q!, k!, v!, out]);
    });
  }

  it("equals the float64 reference on random shapes, options and block sizes", async () => {
    const runs = backend === "webgpu" ? 6 : 25;
    let seed = 1;
    await fc.assert(
      fc.asyncProperty(
        attentionShape(),
        fc.record({
          causal: fc.boolean(),
          window: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
          blockRows: fc.option(fc.integer({ min: 1, max: 7 }), { nil: undefined }),
          maskKind: fc.constantFrom("none", "keys", "full"),
          biasKind: fc.constantFrom("none", "heads", "full"),
          scale: fc.option(fc.double({ min: 0.05, max: 2, noNaN: true }), { nil: undefined }),
        }),
        async (s, o) => {
          seed += 10;
          const q = randomPair([s.batch, s.heads, s.seqQ, s.dim], seed);
          const k = randomPair([s.batch, s.heads, s.seqK, s.dim], seed + 1);
          const v = randomPair([s.batch, s.heads, s.seqK, s.dimV], seed + 2);
          const maskShape = o.maskKind === "keys" ? [s.batch, 1, 1, s.seqK] : [s.batch, s.heads, s.seqQ, s.seqK];
          const mask = o.maskKind === "none" ? null : randomPair(maskShape, seed + 3);
          const maskBin = mask ? hostArray(mask.host.shape, Array.from(mask.host.data, (x: number) => (x > -0.3 ? 1 : 0))) : null;
          const maskT = maskBin ? tf.tensor(Array.from(maskBin.data), maskBin.shape, "bool") : undefined;
          const biasShape = o.biasKind === "heads" ? [1, s.heads, 1, s.seqK] : [s.batch, s.heads, s.seqQ, s.seqK];
          const bias = o.biasKind === "none" ? null : randomPair(biasShape, seed + 4);
          const opts = {
            causal: o.causal || o.window !== undefined,
            ...(o.window !== undefined ? { window: o.window } : {}),
            ...(o.blockRows !== undefined ? { blockRows: o.blockRows } : {}),
            ...(maskT ? { mask: maskT } : {}),
            ...(bias ? { bias: bias.tensor } : {}),
            ...(o.scale !== undefined ? { scale: o.scale } : {}),
          };
          const { output, weights } = scaledDotProductAttention(q.tensor, k.tensor, v.tensor, { ...opts, returnWeights: true });
          const ref = referenceAttention(q.host, k.host, v.host, {
            causal: opts.causal,
            window: o.window ?? null,
            scale: o.scale ?? null,
            ...(maskBin ? { mask: maskBin } : {}),
            ...(bias ? { bias: bias.host } : {}),
          });
          await expectClose(output, ref.output, tol);
          await expectClose(weights, ref.weights, tol);
          tf.dispose([q.tensor, k.tensor, v.tensor, output, weights, ...(maskT ? [maskT] : []), ...(bias ? [bias.tensor] : [])]);
        },
      ),
      { numRuns: runs, seed: 42 },
    );
  });

  it("gives zero rows where no key is visible, never NaN", async () => {
    const q = randomPair([1, 2, 5, 4], 3).tensor;
    const k = randomPair([1, 2, 3, 4], 4).tensor;
    const v = randomPair([1, 2, 3, 4], 5).tensor;
    // Causal with more queries than keys: the first two queries see nothing.
    const out = scaledDotProductAttention(q, k, v, { causal: true });
    const rows = (await out.array()) as number[][][][];
    expect(rows[0]![0]![0]).toEqual([0, 0, 0, 0]);
    expect(rows[0]![1]![1]).toEqual([0, 0, 0, 0]);
    expect(rows[0]![0]![2]!.some((x) => x !== 0)).toBe(true);
    // A mask row of zeros, and a bias row of −∞.
    const mask = tf.tensor([1, 1, 1, 0, 0, 0], [1, 1, 2, 3], "bool");
    const m = scaledDotProductAttention(q.slice([0, 0, 0, 0], [1, 2, 2, 4]), k, v, { mask });
    expect(((await m.array()) as number[][][][])[0]![1]![1]).toEqual([0, 0, 0, 0]);
    const bias = tf.tensor([0, 0, 0, -Infinity, -Infinity, -Infinity], [1, 1, 2, 3]);
    const b = scaledDotProductAttention(q.slice([0, 0, 0, 0], [1, 2, 2, 4]), k, v, { bias });
    const bv = (await b.array()) as number[][][][];
    expect(bv[0]![0]![1]).toEqual([0, 0, 0, 0]);
    expect(bv.flat(3).every(Number.isFinite)).toBe(true);
    tf.dispose([q, k, v, out, mask, m, bias, b]);
  });

  it("returns weights whose visible rows sum to one", async () => {
    const q = randomPair([2, 2, 9, 4], 6).tensor;
    const { output, weights } = scaledDotProductAttention(q, q, q, { causal: true, returnWeights: true, blockRows: 4 });
    await expectClose(weights.sum(-1), tf.ones([2, 2, 9]), { atol: 1e-5, rtol: 0 });
    tf.dispose([q, output, weights]);
  });

  it("has gradients that match finite differences (q, k, v, bias; output and weights)", async () => {
    const q = randomPair([1, 2, 5, 3], 7).tensor;
    const k = randomPair([1, 2, 6, 3], 8).tensor;
    const v = randomPair([1, 2, 6, 2], 9).tensor;
    const bias = randomPair([1, 2, 1, 6], 10).tensor;
    const mask = tf.tensor([1, 1, 0, 1, 1, 1], [1, 1, 1, 6], "bool");
    const opts = { causal: true, blockRows: 2, mask } as const;
    await checkGradients((a, b, c, d) => scaledDotProductAttention(a!, b!, c!, { ...opts, bias: d! }), [q, k, v, bias]);
    await checkGradients((a, b, c) => {
      const r = scaledDotProductAttention(a!, b!, c!, { window: 2, returnWeights: true });
      return tf.concat([r.output.reshape([-1]), r.weights.reshape([-1])]);
    }, [q, k, v]);
    tf.dispose([q, k, v, bias, mask]);
  });

  it("leaks no tensors, forward or backward", async () => {
    const q = randomPair([1, 2, 7, 4], 11).tensor;
    const bias = randomPair([1, 1, 7, 7], 12).tensor;
    await expectNoLeaks(() => scaledDotProductAttention(q, q, q, { causal: true, blockRows: 3, bias }));
    const mask = tf.onesLike(bias).cast("bool");
    await expectNoLeaks(() => scaledDotProductAttention(q, q, q, { returnWeights: true, mask }));
    await expectNoLeaks(() => tf.grads((a, b) => scaledDotProductAttention(a!, a!, a!, { bias: b!, blockRows: 2 }).sum())([q, bias]));
    tf.dispose([q, bias, mask]);
  });
});

describe("scaledDotProductAttention bad input", () => {
  const q = tf.zeros([1, 2, 4, 3]);
  it("names the argument in shape errors", async () => {
    expect(() => scaledDotProductAttention(q, tf.zeros([1, 2, 4, 5]), q)).toThrow(ShapeError);
    expect(() => scaledDotProductAttention(q, q, tf.zeros([1, 2, 5, 3]))).toThrow(/v must have shape/);
    expect(() => scaledDotProductAttention(tf.zeros([2, 4, 3]), q, q)).toThrow(/q must have rank 4/);
    expect(() => scaledDotProductAttention(q, q, q, { mask: tf.ones([3, 4]) })).toThrow(/mask must broadcast/);
    expect(() => scaledDotProductAttention(q, q, q, { bias: tf.ones([2, 2, 4, 4]) })).toThrow(/bias must broadcast/);
    expect(() => scaledDotProductAttention(q.cast("int32"), q, q)).toThrow(/q must be float32/);
  });
  it("rejects bad options", async () => {
    expect(() => scaledDotProductAttention(q, q, q, { scale: -1 })).toThrow(OptionError);
    expect(() => scaledDotProductAttention(q, q, q, { scale: Number.NaN })).toThrow(/scale/);
    expect(() => scaledDotProductAttention(q, q, q, { window: 0 })).toThrow(/window must be an integer/);
    expect(() => scaledDotProductAttention(q, q, q, { window: 2, causal: false })).toThrow(/window implies causal/);
    expect(() => scaledDotProductAttention(q, q, q, { blockRows: 1.5 })).toThrow(/blockRows/);
    expect(() => scaledDotProductAttention(q, q, q, { casual: true } as never)).toThrow(/unknown option 'casual'/);
  });
});
