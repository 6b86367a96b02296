// Chunk mode over many chunks: the custom-gradient op (src/ops/chunked.ts) walks the sequence in segments
// of up to 32 chunks (fewer when batch·heads·chunkSize exceeds 2048 rows) plus the shorter last chunk.
// These lengths span several segments; outputs, final states and the gradients of every input (q, k, v,
// the initial state and a tensor decay) must equal the parallel form's.
import * as tf from "@tensorflow/tfjs";
import { it } from "vitest";
import { describeBackends, expectClose, expectNoLeaks, randomPair } from "@attnkit/testing";
import { decayLinearAttention, linearAttention } from "../src/index";
import { referenceLinearAttention } from "../src/reference";

const tol = { atol: 2e-4, rtol: 2e-3 };

// [b, h, seq, chunkSize, linear attention's feature map]: 70 tokens in chunks of 1 (segments of 32, 32, 6);
// 101 in chunks of 3 (32 chunks, 1 chunk, then 2 tokens); 1100 in chunks of 64 with b·h = 2 (segments of 16
// chunks = 1024 tokens, then 76).
const shapes = [
  [2, 2, 70, 1, "elu1"],
  [1, 2, 101, 3, "relu"],
  [1, 2, 1100, 64, "elu1"],
] as const;

describeBackends("chunk mode across segments", (backend) => {
  const cases = backend === "webgpu" ? shapes.slice(0, 2) : shapes;
  for (const [b, h, seq, chunkSize, featureMap] of cases) {
    it(`linearAttention (${featureMap}): seq ${seq}, chunkSize ${chunkSize}, with an initial state, equals parallel mode (output, state, gradients)`, async () => {
      const [d, dv] = [3, 2];
      const q = randomPair([b, h, seq, d], 1).tensor;
      const k = randomPair([b, h, seq, d], 2).tensor;
      const v = randomPair([b, h, seq, dv], 3).tensor;
      const s0 = randomPair([b, h, d, dv], 4).tensor;
      const z0 = tf.randomUniform([b, h, d], 0.5, 1.5, "float32", 5);
      const r = tf.randomUniform([b, h, seq, dv], -1, 1, "float32", 6);
      const run = (mode: "parallel" | "chunk") => (qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor, ss: tf.Tensor, zz: tf.Tensor) =>
        linearAttention(qq, kk, vv, { featureMap, mode, chunkSize, initialState: { s: ss, z: zz }, returnState: true });
      // Loss over the output and both final states, so their gradients reach every input.
      const loss = (mode: "parallel" | "chunk") => (qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor, ss: tf.Tensor, zz: tf.Tensor) => {
        const out = run(mode)(qq, kk, vv, ss, zz);
        return out.output.mul(r).sum().add(out.state.s.sum().mul(0.3)).add(out.state.z!.sum().mul(0.2)) as tf.Scalar;
      };
      const want = run("parallel")(q, k, v, s0, z0);
      const got = run("chunk")(q, k, v, s0, z0);
      await expectClose(got.output, want.output, tol);
      await expectClose(got.state.s, want.state.s, tol);
      await expectClose(got.state.z!, want.state.z!, tol);
      const gWant = tf.grads(loss("parallel"))([q, k, v, s0, z0]);
      const gGot = tf.grads(loss("chunk"))([q, k, v, s0, z0]);
      for (let i = 0; i < gWant.length; i++) await expectClose(gGot[i]!, gWant[i]!, tol);
      await expectNoLeaks(() => tf.grads((qq, kk, vv) => linearAttention(qq!, kk!, vv!, { featureMap, chunkSize }).mul(r).sum())([q, k, v]));
      tf.dispose([q, k, v, s0, z0, r, want.output, want.state.s, want.state.z!, got.output, got.state.s, got.state.z!, ...gWant, ...gGot]);
    });

    it(`decayLinearAttention: seq ${seq}, chunkSize ${chunkSize}, scale 0.7, tensor or number[] decay and initial state, equals parallel mode (output, state, gradients)`, async () => {
      const [d, dv] = [3, 4];
      const qp = randomPair([b, h, seq, d], 11);
      const kp = randomPair([b, h, seq, d], 12);
      const vp = randomPair([b, h, seq, dv], 13);
      const [q, k, v] = [qp.tensor, kp.tensor, vp.tensor];
      const s0 = randomPair([b, h, d, dv], 14).tensor;
      const decay = tf.tensor1d([0.97, 0.8].slice(0, h));
      const r = tf.randomUniform([b, h, seq, dv], -1, 1, "float32", 16);
      const run = (mode: "parallel" | "chunk") => (qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor, ss: tf.Tensor, dd: tf.Tensor) =>
        decayLinearAttention(qq, kk, vv, { decay: dd, scale: 0.7, mode, chunkSize, initialState: { s: ss }, returnState: true });
      const loss = (mode: "parallel" | "chunk") => (qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor, ss: tf.Tensor, dd: tf.Tensor) => {
        const out = run(mode)(qq, kk, vv, ss, dd);
        return out.output.mul(r).sum().add(out.state.s.sum().mul(0.3)) as tf.Scalar;
      };
      const want = run("parallel")(q, k, v, s0, decay);
      const got = run("chunk")(q, k, v, s0, decay);
      await expectClose(got.output, want.output, tol);
      await expectClose(got.state.s, want.state.s, tol);
      const gWant = tf.grads(loss("parallel"))([q, k, v, s0, decay]);
      const gGot = tf.grads(loss("chunk"))([q, k, v, s0, decay]);
      for (let i = 0; i < gWant.length; i++) await expectClose(gGot[i]!, gWant[i]!, tol);
      // A number[] decay is a constant (no gradient of its own).
      const fixed = (mode: "parallel" | "chunk") => tf.grads((qq, kk, vv) => decayLinearAttention(qq!, kk!, vv!, { decay: [0.97, 0.8].slice(0, h), scale: 0.7, mode, chunkSize }).mul(r).sum())([q, k, v]);
      const [fWant, fGot] = [fixed("parallel"), fixed("chunk")];
      for (let i = 0; i < fWant.length; i++) await expectClose(fGot[i]!, fWant[i]!, tol);
      tf.dispose([...fWant, ...fGot]);
      await expectNoLeaks(() => tf.grads((qq, kk, vv, dd) => decayLinearAttention(qq!, kk!, vv!, { decay: dd!, chunkSize }).mul(r).sum())([q, k, v, decay]));
      // Non-causal: a forward and a reversed chunked pass.
      const both = { decay: [0.9, 0.6].slice(0, h), causal: false, scale: 0.7 };
      await expectClose(decayLinearAttention(q, k, v, { ...both, chunkSize }), referenceLinearAttention(qp.host, kp.host, vp.host, both).o, tol);
      tf.dispose([q, k, v, s0, decay, r, want.output, want.state.s, got.output, got.state.s, ...gWant, ...gGot]);
    });
  }
});
