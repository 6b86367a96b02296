// Training-time landmark attention on a short sequence: insert landmarks, run the grouped softmax, and
// show how a query's weight splits between its own block and the earlier blocks its landmarks gate.
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "@attnkit/core";
import { insertLandmarks, landmarkAttention } from "@attnkit/landmark";

const backend = await initBackend();
const blockSize = 4;
const tokens = [[11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21]];
const laid = insertLandmarks(tokens, { blockSize, landmarkId: 0 });
console.log(`backend ${backend}; tokens with landmarks: ${laid.tokenIds[0]!.join(" ")}`);
console.log(`blocks:                      ${laid.blockIds.join(" ")}`);

const T = laid.tokenIds[0]!.length;
const [q, k, v] = [1, 2, 3].map((seed) => tf.randomNormal([1, 1, T, 8], 0, 1, "float32", seed));
const { output, weights } = landmarkAttention(q!, k!, v!, { blockSize, ropeBase: 10000, returnWeights: true });
const w = (await weights.array())[0]![0]!;
const last = w[T - 1]!;
const perBlock = laid.blockIds.reduce<number[]>((acc, b, j) => ((acc[b] = (acc[b] ?? 0) + last[j]!), acc), []);
console.log(`last query's weight per block: ${perBlock.map((x, b) => `block ${b}: ${x.toFixed(3)}`).join(", ")}`);
console.log(`weight on landmark keys: ${last.filter((_, j) => laid.isLandmark[0]![j]).reduce((a, x) => a + x, 0)} (landmarks only gate their block)`);
console.log(`output shape [${output.shape.join(", ")}], every row sums to ${(await weights.sum(-1).mean().data())[0]!.toFixed(6)}`);
tf.dispose([q!, k!, v!, output, weights]);
