// The same input through the three forms of each linear attention (parallel, recurrent, chunk), showing
// they agree, and a long sequence processed in two pieces with the carried state.
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "@attnkit/core";
import { decayLinearAttention, gatedDeltaRule, linearAttention } from "@attnkit/hybrid-attention";

const backend = await initBackend();
console.log(`backend: ${backend}`);
const [b, h, t, d] = [1, 2, 100, 16];
const q = tf.randomNormal([b, h, t, d], 0, 1, "float32", 1);
const k = tf.randomNormal([b, h, t, d], 0, 1, "float32", 2);
const v = tf.randomNormal([b, h, t, d], 0, 1, "float32", 3);
const alpha = tf.randomUniform([b, h, t], 0.8, 1, "float32", 4);
const beta = tf.randomUniform([b, h, t], 0, 1, "float32", 5);

const maxDiff = async (x: tf.Tensor, y: tf.Tensor) => (await tf.max(tf.abs(x.sub(y))).data())[0]!.toExponential(2);

const lin = Object.fromEntries((["parallel", "recurrent", "chunk"] as const).map((mode) => [mode, linearAttention(q, k, v, { mode, chunkSize: 16 })]));
console.log(`linearAttention   max |parallel − recurrent| ${await maxDiff(lin.parallel!, lin.recurrent!)}, |parallel − chunk| ${await maxDiff(lin.parallel!, lin.chunk!)}`);

const decay = [0.95, 0.8];
const dec = Object.fromEntries((["parallel", "recurrent", "chunk"] as const).map((mode) => [mode, decayLinearAttention(q, k, v, { decay, mode, chunkSize: 16 })]));
console.log(`decayLinear (λ ${decay.join(", ")}) |parallel − recurrent| ${await maxDiff(dec.parallel!, dec.recurrent!)}, |parallel − chunk| ${await maxDiff(dec.parallel!, dec.chunk!)}`);

const rec = gatedDeltaRule(q, k, v, { alpha, beta, mode: "recurrent" });
const chunk = gatedDeltaRule(q, k, v, { alpha, beta, mode: "chunk", chunkSize: 16 });
console.log(`gatedDeltaRule    max |recurrent − WY chunk| ${await maxDiff(rec, chunk)}`);

// In pieces: the first 60 tokens, then the last 40 starting from the returned state.
const cut = (x: tf.Tensor, from: number, len: number) => (x.rank === 4 ? x.slice([0, 0, from, 0], [-1, -1, len, -1]) : x.slice([0, 0, from], [-1, -1, len]));
const first = gatedDeltaRule(cut(q, 0, 60), cut(k, 0, 60), cut(v, 0, 60), { alpha: cut(alpha, 0, 60), beta: cut(beta, 0, 60), returnState: true });
const second = gatedDeltaRule(cut(q, 60, 40), cut(k, 60, 40), cut(v, 60, 40), { alpha: cut(alpha, 60, 40), beta: cut(beta, 60, 40), initialState: first.state });
console.log(`gatedDeltaRule    max |full − two pieces with carried state| ${await maxDiff(rec, tf.concat([first.output, second], 2))}`);
console.log(`state shape (key-first [b, h, dim, dimV]): [${first.state.s.shape.join(", ")}], constant in the sequence length`);
