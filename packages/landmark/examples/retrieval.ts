// Retrieving blocks from a long memory: a passkey prompt laid out with landmarks, keys built so that the
// key line's block stands out, then top-k retrieval for the question tokens and the retrieval hit rate;
// finally the generation cache processing the same prompt in chunks.
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "@attnkit/core";
import { LandmarkMemory, landmarkRetrievalAttention, passkeyHitRate, passkeyPrompt } from "@attnkit/landmark";

const backend = await initBackend();
const blockSize = 31;
const n = blockSize + 1;
const prompt = passkeyPrompt({ garbageTokens: 4000, seed: 7, blockSize });
const T = prompt.tokenIds.length;
const memoryLength = Math.floor((T - 40) / n) * n; // complete blocks before the last ~40 positions
console.log(`backend ${backend}; prompt of ${T} positions (${memoryLength / n} memory blocks), key ${prompt.passkey} in block(s) ${prompt.keyBlocks.join(", ")}`);

// Stand-in for trained projections: random q, k, v, plus a shared direction that the landmark of the
// key's block carries and every query shares, as a trained model learns to do.
const [H, D] = [4, 32];
const signal = tf.tidy(() => {
  const mark = tf.buffer([1, 1, T, D]);
  for (const b of prompt.keyBlocks) for (let d = 0; d < D; d++) mark.set(d === 0 ? 6 : 0, 0, 0, b * n + blockSize, d);
  return mark.toTensor();
});
const k = tf.tidy(() => tf.randomNormal([1, H, T, D], 0, 1, "float32", 1).add(signal));
const q = tf.tidy(() => tf.randomNormal([1, H, T, D], 0, 1, "float32", 2).add(tf.oneHot([0], D).reshape([1, 1, 1, D]).mul(3)));
const v = tf.randomNormal([1, H, T, D], 0, 1, "float32", 3);

// How often each memory block is retrieved, per topK (for the docs' retrieval picture).
const retrievedCounts: { topK: number; counts: number[] }[] = [];
for (const topK of [1, 2, 4]) {
  const t0 = performance.now();
  const r = landmarkRetrievalAttention(q, k, v, { blockSize, topK, memoryLength, returnSelection: true });
  const rate = await passkeyHitRate(r.selection, prompt.keyBlocks);
  const counts = new Array<number>(memoryLength / n).fill(0);
  for (const block of await r.selection.data()) if (block >= 0) counts[block]!++;
  retrievedCounts.push({ topK, counts });
  console.log(`topK ${topK}: hit rate ${(100 * rate).toFixed(1)}% of (query, head) pairs, ${(performance.now() - t0).toFixed(0)} ms`);
  tf.dispose([r.output, r.selection, r.scores]);
}

const memory = new LandmarkMemory({ blockSize, topK: 2 });
const out = memory.attendPrompt(q, k, v, { chunkSize: 8 * n });
console.log(`LandmarkMemory: ${memory.length} positions cached in ${memory.blocks} blocks; output [${out.shape.join(", ")}]`);
memory.dispose();
tf.dispose([signal, q, k, v, out]);

export const retrieval = { blocks: memoryLength / n, keyBlocks: prompt.keyBlocks, retrieved: retrievedCounts };
