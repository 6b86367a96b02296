// A sample of each dataset: MQAR, passkey prompts, tokenizers, Moby-Dick and SOTU, MNIST, and seeded
// resumable batches. Run: npx tsx packages/datasets/examples/datasets.ts
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "@attnkit/core";
import {
  batches,
  byteTokenizer,
  charTokenizer,
  column,
  encodeDocuments,
  IGNORE_INDEX,
  loadMnist,
  loadMobyDick,
  loadSotu,
  mqar,
  passkey,
  passkeyTokenizer,
  textWindows,
  toTfDataset,
  type Batch,
} from "@attnkit/datasets";

const backend = await initBackend();
console.log(`backend: ${backend}\n`);

// MQAR: key-value pairs, then queries; the label at a query is its value (−100 elsewhere).
const task = mqar({ seed: 1, vocabSize: 8192, numKvPairs: 4, seqLen: 64, numExamples: 2 });
const x = task.inputs[0]!;
const y = task.labels[0]!;
console.log("MQAR context :", x.slice(0, 8).join(" "));
console.log("MQAR queries :", y.flatMap((v, t) => (v === IGNORE_INDEX ? [] : [`pos ${t}: key ${x[t]} → ${v}`])).join(", "));

// Passkey retrieval: filler text around a key, then the question.
const pk = passkey({ seed: 7, garbageChars: 180, tokenizer: passkeyTokenizer() });
console.log(`\npasskey prompt (${pk.inputs[0]!.length} tokens, answer "${pk.answers[0]}"):\n${pk.prompts[0]}\n`);

// Tokenizers: bytes cover any text; characters come from a training text.
const bytes = byteTokenizer();
const text = "Call me Ishmael. 🐋";
console.log(`byte tokenizer: ${JSON.stringify(text)} → [${bytes.encode(text).join(", ")}] → ${JSON.stringify(bytes.decode(bytes.encode(text)))}`);

// Moby-Dick, split by chapter; a character tokenizer from the training chapters only.
const moby = await loadMobyDick();
const chars = charTokenizer(moby.train.map((d) => d.text));
const trainTokens = encodeDocuments(moby.train, chars);
console.log(`\nMoby-Dick: ${moby.train.length} train / ${moby.validation.length} validation chapters, ${chars.vocabSize} characters, ${trainTokens.length} train tokens`);
console.log(`  validation: ${moby.validation.slice(0, 5).map((d) => d.id).join(", ")}, …`);

const sotu = await loadSotu({ years: [1990, 2021] });
console.log(`SOTU 1990–2021: ${sotu.train.length} train / ${sotu.validation.length} validation addresses; validation: ${sotu.validation.map((d) => d.title).join("; ")}`);

// MNIST: a fixed, stratified split of the package's 10,000 digits.
const mnist = await loadMnist();
console.log(`\nMNIST: ${mnist.train.count} train / ${mnist.test.count} test; the first training digit is a ${mnist.train.labels[0]}:`);
const img = mnist.train.images.subarray(0, 784);
for (let r = 0; r < 28; r += 2) console.log("  " + Array.from({ length: 28 }, (_, c) => (img[r * 28 + c]! > 0.5 ? "#" : img[r * 28 + c]! > 0.1 ? "+" : " ")).join(""));

// Seeded batches over character windows; save the position and resume exactly.
const windows = textWindows(trainTokens, { seqLen: 64 });
const options = { batchSize: 8, seed: 3, epochs: 2 };
const run = batches(windows, options);
for (let i = 0; i < 3; i++) tf.dispose(Object.values(run.next().value as Batch));
const saved = run.position;
const next = run.next().value as Batch;
const resumed = batches(windows, { ...options, position: saved }).next().value as Batch;
const nextData = (await next.inputs!.data()) as Int32Array;
const resumedData = (await resumed.inputs!.data()) as Int32Array;
const same = nextData.length === resumedData.length && nextData.every((v, i) => v === resumedData[i]);
console.log(`\nbatches: ${run.batchesPerEpoch} per epoch of ${next.inputs!.shape.join("×")} tokens; saved at ${JSON.stringify(saved)}; resumed batch equals the uninterrupted one: ${same}`);
console.log(`  it reads: ${JSON.stringify(chars.decode(Array.from(nextData.subarray(0, 64))))}`);
tf.dispose([...Object.values(next), ...Object.values(resumed)]);

// tf.data interop: MNIST straight into model.fitDataset.
const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [28, 28, 1] }), tf.layers.dense({ units: 10, activation: "softmax" })] });
model.compile({ optimizer: tf.train.adam(0.01), loss: "sparseCategoricalCrossentropy", metrics: ["accuracy"] });
// TF.js's sparseCategoricalCrossentropy wants float32 class ids, so the label column says so.
const small = {
  xs: column(mnist.train.images.subarray(0, 2000 * 784), { shape: mnist.train.imageShape }),
  ys: column(mnist.train.labels.subarray(0, 2000), { dtype: "float32" }),
};
const ds = toTfDataset(small, { batchSize: 100, seed: 0, xs: "xs", ys: "ys" });
const history = await model.fitDataset(ds, { epochs: 2, verbose: 0 });
console.log(`\nMNIST softmax regression on 2,000 digits via toTfDataset: loss ${(history.history.loss as number[]).map((l) => l.toFixed(3)).join(" → ")}`);
model.dispose();
