// Passkey evaluation: greedy answer accuracy (teacher-forced argmax: greedy decoding yields the key iff
// every digit's argmax along the key is right), and for landmark models the same with every landmark
// layer retrieving its top-k blocks from memory (LandmarkMemory, the official chunked prompt
// processing) plus the retrieval hit rate: how often a query that predicts an answer digit retrieved a
// block of the key line.
import * as tf from "@tensorflow/tfjs";
import { batchMatMul } from "@attnkit/core";
import { LandmarkAttention, LandmarkMemory } from "@attnkit/landmark";
import { layerNames, type TextModelSpec } from "@attnkit/models";

export interface PasskeySet {
  /** Token ids per example (landmarks included for landmark models); all rows equally long. */
  ids: number[][];
  labels: number[][];
  /** Blocks holding the key line, per example (empty without landmarks). */
  keyBlocks: number[][];
  /** Positions of the answer digits in `ids` (the same for every row). */
  answerPositions: number[];
}

/** Examples with every answer digit right, and digits right, given predictions `[rows][digits]` for rows from `first`. */
function tally(pred: number[][], set: PasskeySet, first: number, acc: { all: number; digits: number }): void {
  pred.forEach((row, r) => {
    const want = set.answerPositions.map((p) => set.ids[first + r]![p]!);
    const right = row.filter((t, i) => t === want[i]).length;
    acc.digits += right;
    if (right === want.length) acc.all += 1;
  });
}

/** Argmax at the positions that predict the answer digits, from hidden states `[b, T, d]` or logits. */
async function answerPredictions(out: tf.Tensor, set: PasskeySet): Promise<number[][]> {
  const picked = tf.tidy(() => tf.gather(out, set.answerPositions.map((p) => p - 1), 1).argMax(-1));
  const rows = (await picked.array()) as number[][];
  picked.dispose();
  return rows;
}

/** A plain forward pass per group of rows (models without landmark retrieval). */
export async function evaluateDense(model: tf.LayersModel, set: PasskeySet, batch: number): Promise<Record<string, number>> {
  const T = set.ids[0]!.length;
  // Bound the [rows, heads, T, T] score tensors of full attention (about 2^23 floats per head).
  const rowsPerCall = Math.max(1, Math.min(batch, Math.floor(2 ** 23 / (T * T))));
  const acc = { all: 0, digits: 0 };
  for (let first = 0; first < set.ids.length; first += rowsPerCall) {
    const x = tf.tensor2d(set.ids.slice(first, first + rowsPerCall), undefined, "int32");
    const logits = model.predict(x) as tf.Tensor;
    tally(await answerPredictions(logits, set), set, first, acc);
    tf.dispose([x, logits]);
  }
  const n = set.ids.length;
  return { accuracy: acc.all / n, digitAccuracy: acc.digits / (n * set.answerPositions.length) };
}

interface RetrievalOptions {
  blockSize: number;
  topK: number;
  batch: number;
}

/** Per-layer selections of the answer-predicting queries: [layer][row][query][head] → block ids. */
type Selections = number[][][][][];

/** One landmark layer over the whole sequence through a LandmarkMemory; returns its output and the answer queries' selections. */
async function landmarkLayer(layer: LandmarkAttention, x: tf.Tensor, o: RetrievalOptions, chunkSize: number, queries: number[]): Promise<{ output: tf.Tensor; selected: number[][][][] }> {
  const [b, T] = x.shape as [number, number, number];
  const [wq, wk, wv, wo] = layer.getWeights();
  const split = (w: tf.Tensor, size: number) => tf.tidy(() => batchMatMul(x, w).reshape([b, T, layer.numHeads, size]).transpose([0, 2, 1, 3]));
  const [q, k, v] = [split(wq!, layer.keyDim), split(wk!, layer.keyDim), split(wv!, layer.valueDim)];
  const memory = new LandmarkMemory({ blockSize: o.blockSize, topK: o.topK, ropeBase: layer.ropeBase });
  const outs: tf.Tensor[] = [];
  const selected: number[][][][] = Array.from({ length: b }, () => queries.map(() => []));
  for (let t0 = 0; t0 < T; t0 += chunkSize) {
    const size = Math.min(chunkSize, T - t0);
    const [qc, kc, vc] = [q, k, v].map((t) => t.slice([0, 0, t0, 0], [-1, -1, size, -1]));
    const r = memory.attend(qc!, kc!, vc!, { returnSelection: true });
    outs.push(r.output);
    const here = queries.map((p, i) => [p - t0, i] as const).filter(([row]) => row >= 0 && row < size);
    if (here.length > 0) {
      const sel = (await r.selection.array()) as number[][][][]; // [b, h, c, k]
      for (let bi = 0; bi < b; bi++) for (const [row, i] of here) selected[bi]![i] = sel[bi]!.map((head) => head[row]!);
    }
    tf.dispose([qc!, kc!, vc!, r.selection, r.scores]);
  }
  memory.dispose();
  const output = tf.tidy(() => {
    const o4 = outs.length === 1 ? outs[0]! : tf.concat(outs, 2);
    return batchMatMul(o4.transpose([0, 2, 1, 3]).reshape([b, T, layer.numHeads * layer.valueDim]), wo!);
  });
  tf.dispose([q, k, v, ...outs]);
  return { output, selected };
}

/** Forward pass with top-k retrieval in every landmark layer: logits `[b, queries, vocab]` at the `queries` positions, and the answer queries' block selections per layer. */
export async function retrievalForward(model: tf.LayersModel, spec: TextModelSpec, ids: number[][], o: RetrievalOptions, chunkSize: number, queries: number[]): Promise<{ logits: tf.Tensor; selections: Selections }> {
  const x = tf.tensor2d(ids, undefined, "int32");
  let h = model.getLayer(layerNames.embedding).apply(x) as tf.Tensor;
  x.dispose();
  const selections: Selections = [];
  for (let i = 0; i < spec.numLayers; i++) {
    const normed = model.getLayer(layerNames.attnNorm(i)).apply(h) as tf.Tensor;
    const layer = model.getLayer(layerNames.attn(i));
    let a: tf.Tensor;
    if (layer instanceof LandmarkAttention) {
      const r = await landmarkLayer(layer, normed, o, chunkSize, queries);
      a = r.output;
      selections.push(r.selected);
    } else {
      a = layer.apply(normed) as tf.Tensor;
    }
    const next = tf.tidy(() => {
      const mid = h.add(a);
      return mid.add(model.getLayer(layerNames.ffn(i)).apply(model.getLayer(layerNames.ffnNorm(i)).apply(mid)) as tf.Tensor);
    });
    tf.dispose([h, normed, a]);
    h = next;
  }
  const logits = tf.tidy(() => {
    const last = tf.gather(model.getLayer(layerNames.finalNorm).apply(h) as tf.Tensor, queries, 1);
    return model.getLayer((spec.tieEmbeddings ?? true) ? layerNames.embedding : layerNames.head).apply(last) as tf.Tensor;
  });
  h.dispose();
  return { logits, selections };
}

/** Probability that k of n memory blocks drawn at random include one of the c key blocks among them. */
function chanceHit(n: number, c: number, k: number): number {
  let miss = 1;
  for (let j = 0; j < Math.min(k, n); j++) miss *= Math.max(0, n - c - j) / (n - j);
  return 1 - miss;
}

/** Accuracy with top-k retrieval, and the hit rates of the answer-predicting queries. */
export async function evaluateRetrieval(model: tf.LayersModel, spec: TextModelSpec, set: PasskeySet, o: RetrievalOptions): Promise<Record<string, number>> {
  const block = o.blockSize + 1;
  // As llama_mem.py: chunks leave room for the k retrieved blocks and the current one within the training length.
  const chunkSize = block * Math.max(1, Math.floor(spec.seqLen / block) - o.topK - 1);
  const queries = set.answerPositions.map((p) => p - 1);
  const acc = { all: 0, digits: 0 };
  let hits = 0;
  let rows = 0;
  let anyHits = 0;
  let chance = 0;
  for (let first = 0; first < set.ids.length; first += o.batch) {
    const ids = set.ids.slice(first, first + o.batch);
    const { logits, selections } = await retrievalForward(model, spec, ids, o, chunkSize, queries);
    const argmax = tf.tidy(() => logits.argMax(-1));
    const pred = (await argmax.array()) as number[][];
    tf.dispose([logits, argmax]);
    tally(pred, set, first, acc);
    ids.forEach((_, r) => {
      const keys = new Set(set.keyBlocks[first + r]);
      queries.forEach((p, qi) => {
        const memoryBlocks = (Math.floor(p / chunkSize) * chunkSize) / block;
        chance += chanceHit(memoryBlocks, [...keys].filter((b) => b < memoryBlocks).length, o.topK);
        let any = false;
        for (const layer of selections) {
          for (const head of layer[r]![qi]!) {
            const hit = head.some((blk) => keys.has(blk));
            hits += hit ? 1 : 0;
            rows += 1;
            any ||= hit;
          }
        }
        anyHits += any ? 1 : 0;
      });
    });
  }
  const n = set.ids.length;
  return {
    accuracy: acc.all / n,
    digitAccuracy: acc.digits / (n * queries.length),
    /** Over (layer, head, query): the query's top-k blocks include a block of the key line. */
    hitRate: rows === 0 ? 0 : hits / rows,
    /** Over queries: some head of some layer retrieved a key block. */
    hitRateAny: anyHits / (n * queries.length),
    /** hitRate of a retrieval that picks memory blocks at random. */
    hitRateChance: chance / (n * queries.length),
  };
}
