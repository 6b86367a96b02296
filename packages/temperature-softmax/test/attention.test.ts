import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import { OptionError, ShapeError, scaledDotProductAttention } from "@attnkit/core";
import { hostArray, type HostArray } from "@attnkit/core/reference";
import { attentionShape, backendTolerance, checkGradients, describeBackends, expectClose, expectNoLeaks, fc, randomPair, randomValues } from "@attnkit/testing";
import { logNScaledAttention, ssmaxAttention, temperatureAttention } from "../src/index";
import { referenceLogNAttention, referenceSsmaxAttention, referenceTemperatureAttention } from "../src/reference";

/** A `[b, sk]` 0/1 key mask with roughly a third of the keys dropped (whole rows sometimes). */
function keyMaskPair(batch: number, seqK: number, seed: number): { tensor: tf.Tensor; host: HostArray } {
  const vals = Array.from(randomValues(batch * seqK, seed), (x) => (x > -0.35 ? 1 : 0));
  return { tensor: tf.tensor2d(vals, [batch, seqK], "float32"), host: hostArray([batch, seqK], vals) };
}

describeBackends("temperature-softmax attention ops", (backend) => {
  const tol = backendTolerance(backend, { atol: 2e-5, rtol: 2e-4 });
  const runs = backend === "webgpu" ? 4 : 20;

  it("temperatureAttention equals the float64 reference (scalar and per-head τ, causal, key mask, bias, scale)", async () => {
    let seed = 100;
    await fc.assert(
      fc.asyncProperty(
        attentionShape(),
        fc.record({
          causal: fc.boolean(),
          perHead: fc.boolean(),
          keyMask: fc.boolean(),
          bias: fc.constantFrom("none", "heads", "full"),
          scale: fc.option(fc.double({ min: 0.1, max: 2, noNaN: true }), { nil: undefined }),
        }),
        async (s, o) => {
          seed += 10;
          const q = randomPair([s.batch, s.heads, s.seqQ, s.dim], seed);
          const k = randomPair([s.batch, s.heads, s.seqK, s.dim], seed + 1);
          const v = randomPair([s.batch, s.heads, s.seqK, s.dimV], seed + 2);
          const tau = o.perHead ? Array.from({ length: s.heads }, (_, h) => 0.4 + 0.3 * h) : 0.7;
          const mask = o.keyMask ? keyMaskPair(s.batch, s.seqK, seed + 3) : null;
          const biasShape = o.bias === "heads" ? [1, s.heads, 1, s.seqK] : [s.batch, s.heads, s.seqQ, s.seqK];
          const bias = o.bias === "none" ? null : randomPair(biasShape, seed + 4, 2);
          const { output, weights } = temperatureAttention(q.tensor, k.tensor, v.tensor, {
            temperature: tau,
            causal: o.causal,
            returnWeights: true,
            ...(o.scale !== undefined ? { scale: o.scale } : {}),
            ...(mask ? { keyMask: mask.tensor } : {}),
            ...(bias ? { bias: bias.tensor } : {}),
          });
          const ref = referenceTemperatureAttention(q.host, k.host, v.host, tau, {
            causal: o.causal,
            scale: o.scale ?? null,
            ...(mask ? { keyMask: mask.host } : {}),
            ...(bias ? { bias: bias.host } : {}),
          });
          await expectClose(output, ref.output, tol);
          await expectClose(weights, ref.weights, tol);
          tf.dispose([q.tensor, k.tensor, v.tensor, output, weights, ...(mask ? [mask.tensor] : []), ...(bias ? [bias.tensor] : [])]);
        },
      ),
      { numRuns: runs, seed: 3 },
    );
  });

  it("ssmaxAttention equals the float64 reference (scalar and per-head s, b, causal, key mask)", async () => {
    let seed = 200;
    await fc.assert(
      fc.asyncProperty(
        attentionShape(),
        fc.record({ causal: fc.boolean(), perHead: fc.boolean(), keyMask: fc.boolean(), b: fc.constantFrom(0, 0.5, -0.3) }),
        async (s, o) => {
          seed += 10;
          const q = randomPair([s.batch, s.heads, s.seqQ, s.dim], seed);
          const k = randomPair([s.batch, s.heads, s.seqK, s.dim], seed + 1);
          const v = randomPair([s.batch, s.heads, s.seqK, s.dimV], seed + 2);
          const sv = o.perHead ? Array.from({ length: s.heads }, (_, h) => 0.43 + 0.5 * h) : 0.6;
          const mask = o.keyMask ? keyMaskPair(s.batch, s.seqK, seed + 3) : null;
          const { output, weights } = ssmaxAttention(q.tensor, k.tensor, v.tensor, {
            s: sv,
            b: o.b,
            causal: o.causal,
            returnWeights: true,
            ...(mask ? { keyMask: mask.tensor } : {}),
          });
          const ref = referenceSsmaxAttention(q.host, k.host, v.host, sv, o.b, { causal: o.causal, ...(mask ? { keyMask: mask.host } : {}) });
          await expectClose(output, ref.output, tol);
          await expectClose(weights, ref.weights, tol);
          tf.dispose([q.tensor, k.tensor, v.tensor, output, weights, ...(mask ? [mask.tensor] : [])]);
        },
      ),
      { numRuns: runs, seed: 4 },
    );
  });

  it("logNScaledAttention equals the float64 reference", async () => {
    let seed = 300;
    await fc.assert(
      fc.asyncProperty(
        attentionShape(),
        fc.record({ causal: fc.boolean(), keyMask: fc.boolean(), trainLength: fc.integer({ min: 2, max: 12 }) }),
        async (s, o) => {
          seed += 10;
          const q = randomPair([s.batch, s.heads, s.seqQ, s.dim], seed, 2);
          const k = randomPair([s.batch, s.heads, s.seqK, s.dim], seed + 1);
          const v = randomPair([s.batch, s.heads, s.seqK, s.dimV], seed + 2);
          const mask = o.keyMask ? keyMaskPair(s.batch, s.seqK, seed + 3) : null;
          const out = logNScaledAttention(q.tensor, k.tensor, v.tensor, {
            trainLength: o.trainLength,
            causal: o.causal,
            ...(mask ? { keyMask: mask.tensor } : {}),
          });
          const ref = referenceLogNAttention(q.host, k.host, v.host, o.trainLength, { causal: o.causal, ...(mask ? { keyMask: mask.host } : {}) });
          await expectClose(out, ref.output, tol);
          tf.dispose([q.tensor, k.tensor, v.tensor, out, ...(mask ? [mask.tensor] : [])]);
        },
      ),
      { numRuns: runs, seed: 5 },
    );
  });

  it("τ = 1 (scalar, per head and as a tensor) equals core's attention", async () => {
    const q = randomPair([2, 2, 7, 5], 1).tensor;
    const k = randomPair([2, 2, 9, 5], 2).tensor;
    const v = randomPair([2, 2, 9, 3], 3).tensor;
    const bias = randomPair([1, 2, 7, 9], 4).tensor;
    const tauT = tf.ones([2]);
    const plain = scaledDotProductAttention(q, k, v, { causal: true, bias });
    for (const temperature of [1, [1, 1], tauT]) {
      const out = temperatureAttention(q, k, v, { temperature, causal: true, bias });
      await expectClose(out, plain, tol);
      out.dispose();
    }
    tf.dispose([q, k, v, bias, tauT, plain]);
  });

  it("a scalar τ equals the same τ per head and as a tensor, and equals scaling the logits by 1/τ", async () => {
    const q = randomPair([1, 3, 6, 4], 5).tensor;
    const k = randomPair([1, 3, 6, 4], 6).tensor;
    const v = randomPair([1, 3, 6, 4], 7).tensor;
    const bias = randomPair([1, 1, 6, 6], 8).tensor;
    const tauT = tf.scalar(0.8);
    const a = temperatureAttention(q, k, v, { temperature: 0.8, bias, scale: 0.3 });
    const b = temperatureAttention(q, k, v, { temperature: [0.8, 0.8, 0.8], bias, scale: 0.3 });
    const c = temperatureAttention(q, k, v, { temperature: tauT, bias, scale: 0.3 });
    const scaledBias = bias.div(0.8);
    const d = scaledDotProductAttention(q, k, v, { bias: scaledBias, scale: 0.3 / 0.8 });
    await expectClose(b, a, tol);
    await expectClose(c, a, tol);
    await expectClose(d, a, tol);
    tf.dispose([q, k, v, bias, tauT, a, b, c, scaledBias, d]);
  });

  it("SSMax: s = 1/log n equals softmax, s = 0 averages the visible values; log-n equals SSMax with s = 1/log L once n ≥ L", async () => {
    const seqK = 11;
    const q = randomPair([1, 2, 5, 4], 9).tensor;
    const k = randomPair([1, 2, seqK, 4], 10).tensor;
    const v = randomPair([1, 2, seqK, 3], 11).tensor;
    const plain = scaledDotProductAttention(q, k, v);
    const ss = ssmaxAttention(q, k, v, { s: 1 / Math.log(seqK) });
    await expectClose(ss, plain, tol);
    const uniform = ssmaxAttention(q, k, v, { s: 0 });
    const mean = tf.broadcastTo(v.mean(2, true), [1, 2, 5, 3]);
    await expectClose(uniform, mean, tol);
    // Causal, seqQ = seqK: queries with n ≥ L agree with SSMax(s = 1/log L), the others with plain softmax.
    const qc = randomPair([1, 2, seqK, 4], 12).tensor;
    const L = 4;
    const logn = logNScaledAttention(qc, k, v, { trainLength: L, causal: true });
    const ssL = ssmaxAttention(qc, k, v, { s: 1 / Math.log(L), causal: true });
    const plainC = scaledDotProductAttention(qc, k, v, { causal: true });
    await expectClose(logn.slice([0, 0, L - 1, 0], [-1, -1, -1, -1]), ssL.slice([0, 0, L - 1, 0], [-1, -1, -1, -1]), tol);
    await expectClose(logn.slice([0, 0, 0, 0], [-1, -1, L, -1]), plainC.slice([0, 0, 0, 0], [-1, -1, L, -1]), tol);
    // trainLength ≥ every n: no rescaling at all.
    const longTrain = logNScaledAttention(qc, k, v, { trainLength: 4096, causal: true });
    await expectClose(longTrain, plainC, tol);
    tf.dispose([q, k, v, plain, ss, uniform, mean, qc, logn, ssL, plainC, longTrain]);
  });

  it("fully masked rows give zeros (key mask, −∞ bias, more queries than keys)", async () => {
    const q = randomPair([2, 1, 4, 3], 13).tensor;
    const k = randomPair([2, 1, 4, 3], 14).tensor;
    const v = randomPair([2, 1, 4, 3], 15).tensor;
    const keyMask = tf.tensor2d([[0, 0, 0, 0], [1, 1, 0, 1]]);
    const outs = [
      temperatureAttention(q, k, v, { temperature: 0.5, keyMask }),
      ssmaxAttention(q, k, v, { s: 0.5, keyMask }),
      logNScaledAttention(q, k, v, { trainLength: 2, keyMask }),
    ];
    for (const out of outs) {
      const data = await out.data();
      expect(Array.from(data).every(Number.isFinite)).toBe(true);
      expect(Array.from(data.slice(0, 12))).toEqual(new Array(12).fill(0));
    }
    const negInf = tf.fill([1, 1, 4, 4], -Infinity);
    const viaBias = temperatureAttention(q, k, v, { temperature: 0.5, bias: negInf });
    expect(Array.from(await viaBias.data())).toEqual(new Array(24).fill(0));
    const k2 = randomPair([2, 1, 2, 3], 16).tensor;
    const v2 = randomPair([2, 1, 2, 3], 17).tensor;
    const short = ssmaxAttention(q, k2, v2, { s: 0.5, causal: true });
    const data = await short.data();
    expect(Array.from(data.slice(0, 6))).toEqual(new Array(6).fill(0));
    expect(Array.from(data).every(Number.isFinite)).toBe(true);
    tf.dispose([q, k, v, keyMask, ...outs, negInf, viaBias, k2, v2, short]);
  });

  it("gradients match finite differences (q, k, v, bias, a tensor τ and a tensor s)", async () => {
    const q = randomPair([1, 2, 4, 3], 20).tensor;
    const k = randomPair([1, 2, 5, 3], 21).tensor;
    const v = randomPair([1, 2, 5, 2], 22).tensor;
    const bias = randomPair([1, 2, 4, 5], 23).tensor;
    const tau = tf.tensor1d([0.7, 1.3]);
    const s = tf.tensor1d([0.5, 0.9]);
    const keyMask = tf.tensor2d([[1, 0, 1, 1, 1]]);
    // WebGPU runs on a slow software renderer here: there, fewer probed elements per input.
    const opts = { maxElements: backend === "webgpu" ? 6 : 48 };
    await checkGradients((a, b, c, d, t) => temperatureAttention(a!, b!, c!, { temperature: t!, bias: d!, causal: true, keyMask }), [q, k, v, bias, tau], opts);
    const tau1 = tf.tensor1d([0.8]);
    await checkGradients((a, b, c, t) => temperatureAttention(a!, b!, c!, { temperature: t!.reshape([]) }), [q, k, v, tau1], opts);
    await checkGradients((a, b, c, t) => ssmaxAttention(a!, b!, c!, { s: t!, b: 0.2, causal: true, keyMask }), [q, k, v, s], opts);
    await checkGradients((a, b, c) => logNScaledAttention(a!, b!, c!, { trainLength: 2, causal: true }), [q, k, v], opts);
    tau1.dispose();
    // A −∞ bias entry (masked) with a learned τ: the gradients stay finite and match finite differences.
    const masked = tf.tensor4d(Array.from({ length: 40 }, (_, i) => (i % 7 === 3 ? -Infinity : Math.sin(i))), [1, 2, 4, 5]);
    const grads = tf.grads((t: tf.Tensor, d: tf.Tensor) => temperatureAttention(q, k, v, { temperature: t, bias: d }).sum())([tau, masked]);
    for (const g of grads) expect(Array.from(await g.data()).every(Number.isFinite)).toBe(true);
    tf.dispose(grads);
    await checkGradients((a, t) => temperatureAttention(a!, k, v, { temperature: t!, bias: masked }), [q, tau], opts);
    masked.dispose();
    tf.dispose([q, k, v, bias, tau, s, keyMask]);
  });

  it("leaks no tensors (plain, per head, tensor τ, weights, gradients)", async () => {
    const q = randomPair([1, 2, 5, 3], 30).tensor;
    const k = randomPair([1, 2, 5, 3], 31).tensor;
    const v = randomPair([1, 2, 5, 3], 32).tensor;
    const keyMask = tf.tensor2d([[1, 1, 0, 1, 1]], [1, 5], "bool");
    const tau = tf.tensor1d([0.9, 1.1]);
    await expectNoLeaks(() => temperatureAttention(q, k, v, { temperature: 0.9 }));
    await expectNoLeaks(() => temperatureAttention(q, k, v, { temperature: [0.9, 0.8], keyMask, returnWeights: true }));
    const bias = tf.zeros([5]);
    await expectNoLeaks(() => temperatureAttention(q, k, v, { temperature: tau, bias }));
    await expectNoLeaks(() => ssmaxAttention(q, k, v, { s: [0.4, 0.5], causal: true, keyMask, returnWeights: true }));
    await expectNoLeaks(() => logNScaledAttention(q, k, v, { trainLength: 3, causal: true }));
    await expectNoLeaks(() => tf.grads((a: tf.Tensor, t: tf.Tensor) => temperatureAttention(a, k, v, { temperature: t }).sum())([q, tau]));
    await expectNoLeaks(() => {
      try {
        temperatureAttention(q, k, v, { temperature: [0.9, -1] });
      } catch {
        return null;
      }
      return null;
    });
    tf.dispose([q, k, v, keyMask, tau, bias]);
  });

  it("bad input throws OptionError or ShapeError naming the function and argument", () => {
    const q = tf.zeros([1, 2, 4, 3]);
    const k = tf.zeros([1, 2, 4, 3]);
    const v = tf.zeros([1, 2, 4, 3]);
    const bad: [() => unknown, typeof OptionError | typeof ShapeError, RegExp][] = [
      [() => temperatureAttention(q, k, v, { temperature: 0 }), OptionError, /temperatureAttention: temperature/],
      [() => temperatureAttention(q, k, v, { temperature: -0.5 }), OptionError, /temperature/],
      [() => temperatureAttention(q, k, v, { temperature: NaN }), OptionError, /temperature/],
      [() => temperatureAttention(q, k, v, { temperature: [1, 1, 1] }), OptionError, /one number per head \(2\)/],
      [() => temperatureAttention(q, k, v, { temperature: [1, 0] }), OptionError, /temperature\[1\]/],
      [() => temperatureAttention(q, k, v, { temperature: tf.ones([3]) }), OptionError, /temperature tensor/],
      [() => temperatureAttention(q, k, v, {} as never), OptionError, /temperature is required/],
      [() => temperatureAttention(q, k, v, undefined as never), OptionError, /temperature/],
      [() => temperatureAttention(q, k, v, { temperature: 1, keyMask: tf.ones([1, 5]) }), ShapeError, /keyMask must have shape \[1, 4\]/],
      [() => temperatureAttention(q, k, v, { temperature: 1, keyMask: tf.ones([4]) }), ShapeError, /keyMask must have rank 2/],
      [() => temperatureAttention(q, k, v, { temperature: 1, bias: tf.ones([3, 4]) }), ShapeError, /temperatureAttention: bias must broadcast/],
      [() => temperatureAttention(q, k, v, { temperature: 1, scale: -1 }), OptionError, /scale/],
      [() => temperatureAttention(q, k, v, { temperature: 1, causal: "yes" as never }), OptionError, /causal/],
      [() => temperatureAttention(q, k, v, { temperature: 1, tau: 1 } as never), OptionError, /unknown option 'tau'/],
      [() => temperatureAttention(tf.zeros([2, 3]), k, v, { temperature: 1 }), ShapeError, /temperatureAttention: q must have rank 4/],
      [() => ssmaxAttention(q, k, v, { s: NaN }), OptionError, /ssmaxAttention: s/],
      [() => ssmaxAttention(q, k, v, { s: [0.5] }), OptionError, /one number per head/],
      [() => ssmaxAttention(q, k, v, { s: 0.5, b: Infinity }), OptionError, /ssmaxAttention: b/],
      [() => ssmaxAttention(q, k, v, { s: 0.5, keyMask: tf.ones([2, 4]) }), ShapeError, /keyMask/],
      [() => ssmaxAttention(q, k, v, {} as never), OptionError, /s is required/],
      [() => ssmaxAttention(q, tf.zeros([1, 2, 4, 2]), v, { s: 1 }), ShapeError, /ssmaxAttention: k must have shape/],
      [() => logNScaledAttention(q, k, v, { trainLength: 1 }), OptionError, /logNScaledAttention: trainLength/],
      [() => logNScaledAttention(q, k, v, { trainLength: 10.5 }), OptionError, /trainLength/],
      [() => logNScaledAttention(q, k, v, {} as never), OptionError, /trainLength/],
      [() => logNScaledAttention(q, k, v, { trainLength: 8, s: 1 } as never), OptionError, /unknown option 's'/],
    ];
    for (const [call, cls, message] of bad) {
      expect(call).toThrow(cls);
      expect(call).toThrow(message);
    }
    tf.dispose([q, k, v]);
  });
});
