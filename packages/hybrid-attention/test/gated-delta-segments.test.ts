// Chunk mode of the gated delta rule over many chunks: the custom-gradient op (src/ops/gated-delta-segments.ts)
// walks the sequence in segments of up to 32 chunks (fewer when batch·heads·chunkSize exceeds 4096 rows) plus
// the shorter last chunk, with a backward pass of its own. These lengths span several segments; outputs,
// final states and the gradients of every input (q, k, v, log α, β, the initial state) must equal the
// recurrent form's and those of the unsegmented WY form differentiated by TF.js.
import * as tf from "@tensorflow/tfjs";
import { it } from "vitest";
import { l2Normalize } from "@attnkit/core";
import { describeBackends, expectClose, expectNoLeaks, randomPair } from "@attnkit/testing";
import { gatedDeltaRule } from "../src/index";
import { wyChunks } from "../src/ops/gated-delta-wy";

const tol = { atol: 2e-4, rtol: 2e-3 };

// [b, h, seq, chunkSize]: 70 tokens in chunks of 1 (segments of 32, 32, 6); 101 in chunks of 3 (32 chunks,
// 1 chunk, then 2 tokens); 1100 in chunks of 64 with b·h = 4 (segments of 16 chunks = 1024 tokens, 1 chunk,
// then 12 tokens).
const shapes = [
  [2, 2, 70, 1],
  [1, 2, 101, 3],
  [2, 2, 1100, 64],
] as const;

describeBackends("gatedDeltaRule chunk mode across segments", (backend) => {
  const cases = backend === "webgpu" ? shapes.slice(0, 2) : shapes;
  for (const [b, h, seq, chunkSize] of cases) {
    it(`seq ${seq}, chunkSize ${chunkSize}, with an initial state: equals the recurrent form and the unsegmented WY form (output, state, gradients of q, k, v, log α, β, s0)`, async () => {
      const [d, dv] = [4, 3];
      const q = randomPair([b, h, seq, d], 21).tensor;
      const k = randomPair([b, h, seq, d], 22).tensor;
      const v = randomPair([b, h, seq, dv], 23).tensor;
      const logAlpha = tf.randomUniform([b, h, seq], -0.3, -0.001, "float32", 24);
      const beta = tf.randomUniform([b, h, seq], 0, 1, "float32", 25);
      const s0 = randomPair([b, h, d, dv], 26).tensor;
      const r = tf.randomUniform([b, h, seq, dv], -1, 1, "float32", 27);
      const xs = [q, k, v, logAlpha, beta, s0];
      const run = (mode: "recurrent" | "chunk") => (x: tf.Tensor[]) =>
        gatedDeltaRule(x[0]!, x[1]!, x[2]!, { logAlpha: x[3]!, beta: x[4]!, mode, chunkSize, initialState: { s: x[5]! }, returnState: true });
      // Loss over the output and the final state, so that gradients reach every input through both.
      const loss = (mode: "recurrent" | "chunk") => (...x: tf.Tensor[]) => {
        const out = run(mode)(x);
        return out.output.mul(r).sum().add(out.state.s.sum().mul(0.3)) as tf.Scalar;
      };
      const want = run("recurrent")(xs);
      const got = run("chunk")(xs);
      await expectClose(got.output, want.output, tol);
      await expectClose(got.state.s, want.state.s, tol);
      const gWant = tf.grads(loss("recurrent"))(xs);
      const gGot = tf.grads(loss("chunk"))(xs);
      for (let i = 0; i < xs.length; i++) await expectClose(gGot[i]!, gWant[i]!, tol);
      // The same loss through the WY form over the whole sequence at once, differentiated by TF.js.
      const gWhole = tf.grads((...x: tf.Tensor[]) => {
        const out = wyChunks(l2Normalize(x[0]!).mul(d ** -0.5), l2Normalize(x[1]!), x[2]!, x[3]!, x[4]!, x[5]!, chunkSize);
        return out.output.mul(r).sum().add(out.s.sum().mul(0.3)) as tf.Scalar;
      })(xs);
      for (let i = 0; i < xs.length; i++) await expectClose(gGot[i]!, gWhole[i]!, tol);
      // Output only (no state returned): the state's gradient is not part of the loss.
      const outLoss = (mode: "recurrent" | "chunk") => (...x: tf.Tensor[]) =>
        gatedDeltaRule(x[0]!, x[1]!, x[2]!, { logAlpha: x[3]!, beta: x[4]!, mode, chunkSize, initialState: { s: x[5]! } }).mul(r).sum() as tf.Scalar;
      const oWant = tf.grads(outLoss("recurrent"))(xs);
      const oGot = tf.grads(outLoss("chunk"))(xs);
      for (let i = 0; i < xs.length; i++) await expectClose(oGot[i]!, oWant[i]!, tol);
      await expectNoLeaks(() => tf.grads(loss("chunk"))(xs));
      await expectNoLeaks(() => tf.grads((qq, kk, vv) => gatedDeltaRule(qq!, kk!, vv!, { logAlpha, beta, chunkSize }).mul(r).sum())([q, k, v]));
      tf.dispose([...xs, r, want.output, want.state.s, got.output, got.state.s, ...gWant, ...gGot, ...gWhole, ...oWant, ...oGot]);
    });
  }
});
