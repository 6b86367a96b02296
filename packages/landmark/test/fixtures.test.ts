// Parity with the public fixtures (float64 references of the official code).
import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import { backendTolerance, describeBackends, expectClose, expectEqualInts, loadFixture, toHost, toNumbers, toTensor, type FixtureTensor } from "@attnkit/testing";
import { insertLandmarks, landmarkAttention, landmarkGroupedSoftmax, landmarkRetrievalAttention } from "../src/index";

interface Fixture {
  options: Record<string, number | string | boolean | null>;
  inputs: Record<string, FixtureTensor>;
  expected: Record<string, FixtureTensor>;
  tolerance: { atol: number; rtol: number };
}
const load = (name: string) => loadFixture<Fixture>(new URL(`./fixtures/${name}.json`, import.meta.url));

it("insertLandmarks matches fixture insert_landmarks_trailing", () => {
  const f = load("insert_landmarks_trailing");
  const got = insertLandmarks([toNumbers(f.inputs.token_ids!)], {
    blockSize: f.options.block_size as number,
    landmarkId: f.options.landmark_id as number,
    trailing: f.options.trailing as boolean,
  });
  expect(got.tokenIds).toEqual([toNumbers(f.expected.token_ids_with_landmarks!)]);
  expect(got.isLandmark).toEqual([toNumbers(f.expected.is_mem!).map(Boolean)]);
  expect(got.blockIds).toEqual(toNumbers(f.expected.block_ids!));
  expect(got.positionIds).toEqual(toNumbers(f.expected.position_ids!));
});

describeBackends("landmark fixtures", (backend) => {
  it("landmarkGroupedSoftmax matches grouped_softmax_scores", async () => {
    const f = load("grouped_softmax_scores");
    const scores = toTensor(f.inputs.scores!);
    const flags = toNumbers(f.inputs.is_mem!).map(Boolean);
    const probs = landmarkGroupedSoftmax(scores, flags);
    await expectClose(probs, toHost(f.expected.probs!), backendTolerance(backend, f.tolerance));
    const asTensor = landmarkGroupedSoftmax(scores, tf.tensor1d(flags.map(Number), "int32"));
    await expectClose(asTensor, toHost(f.expected.probs!), backendTolerance(backend, f.tolerance));
    tf.dispose([scores, probs, asTensor]);
  });

  it("landmarkAttention matches grouped_attention_0 (output and weights)", async () => {
    const f = load("grouped_attention_0");
    const [q, k, v] = (["q", "k", "v"] as const).map((n) => toTensor(f.inputs[n]!));
    const { output, weights } = landmarkAttention(q!, k!, v!, { blockSize: f.options.block_size as number, returnWeights: true });
    await expectClose(output, toHost(f.expected.out!), backendTolerance(backend, f.tolerance));
    await expectClose(weights, toHost(f.expected.probs!), backendTolerance(backend, f.tolerance));
    tf.dispose([q!, k!, v!, output, weights]);
  });

  it("landmarkRetrievalAttention matches retrieval_per_token_head", async () => {
    const f = load("retrieval_per_token_head");
    const [q, k, v] = (["q", "k", "v"] as const).map((n) => toTensor(f.inputs[n]!));
    const r = landmarkRetrievalAttention(q!, k!, v!, {
      blockSize: f.options.block_size as number,
      topK: f.options.top_k as number,
      memoryLength: f.options.mem_len as number,
      selection: "per-token-and-head",
      returnSelection: true,
    });
    await expectEqualInts(r.selection, toNumbers(f.expected.selected!), f.expected.selected!.shape);
    await expectClose(r.scores, toHost(f.expected.rank_scores!), backendTolerance(backend, f.tolerance));
    await expectClose(r.output, toHost(f.expected.out!), backendTolerance(backend, f.tolerance));
    tf.dispose([q!, k!, v!, r.output, r.selection, r.scores]);
  });
});
