// The MQAR task: Zoology's metric (share of labelled positions recalled, averaged per example), −100
// labels ignored, test sets fixed by the task options, resumable stream, spec adaptation.
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OptionError } from "@attnkit/core";
import { IGNORE_INDEX } from "@attnkit/datasets";
import { preset } from "@attnkit/models";
import { createMqarTask, kvPairsAt } from "../src/tasks/mqar";

const OPTIONS = { vocabSize: 64, seqLen: 16, numKvPairs: 2, trainExamples: 40, testExamples: 12 };

let backend: string;
beforeAll(async () => {
  backend = tf.getBackend();
  await tf.setBackend("cpu");
});
afterAll(async () => {
  if (backend) await tf.setBackend(backend);
});

/** A stand-in model: answers each token from the sequence itself (the value after the key's first occurrence), or always `constant`. */
function fakeModel(vocab: number, constant: number | null): tf.LayersModel {
  return {
    apply(x: tf.Tensor) {
      const ids = x.arraySync() as number[][];
      const logits = ids.map((seq) =>
        seq.map((tok, t) => {
          const first = seq.indexOf(tok);
          const answer = constant ?? (first < t && first + 1 < seq.length ? seq[first + 1]! : 0);
          return Array.from({ length: vocab }, (_, v) => (v === answer ? 1 : 0));
        }),
      );
      return tf.tensor3d(logits);
    },
  } as unknown as tf.LayersModel;
}

describe("mqar task", () => {
  it("scores a perfect recaller 1 and a constant guess near 0, at every default length", async () => {
    const task = createMqarTask(OPTIONS);
    const perfect = await task.evaluate(fakeModel(64, null), { seed: 0, batch: 4, step: 5 });
    expect(perfect.map((r) => r.length)).toEqual([16, 32]);
    for (const r of perfect) {
      expect(r.step).toBe(5);
      expect(r.metrics.accuracy).toBe(1);
    }
    const constant = await task.evaluate(fakeModel(64, 40), { seed: 0, batch: 4, step: 5, lengths: [16] });
    expect(constant[0]!.metrics.accuracy).toBeLessThan(0.3);
    // Quick evaluations: the training length only.
    expect((await task.evaluate(fakeModel(64, null), { seed: 0, batch: 4, step: 1, quick: true })).map((r) => r.length)).toEqual([16]);
  });

  it("ignores −100 labels in the loss", () => {
    const task = createMqarTask(OPTIONS);
    const logits = tf.tensor3d([[[5, 0, 0], [0, 0, 9]]]);
    const a = task.loss(tf.tensor2d([[0, IGNORE_INDEX]], undefined, "int32"), logits);
    const b = task.loss(tf.tensor2d([[0, 1]], undefined, "int32"), logits);
    expect(a.arraySync()).toBeCloseTo(-Math.log(Math.exp(5) / (Math.exp(5) + 2)), 5);
    expect(b.arraySync()).toBeGreaterThan(a.arraySync() as number);
  });

  it("streams seeded batches that resume from a saved position", () => {
    const task = createMqarTask(OPTIONS);
    const s = task.stream({ batch: 4, seed: 9 });
    for (let i = 0; i < 12; i++) tf.dispose(Object.values(s.next()).filter((v) => v instanceof tf.Tensor));
    const position = s.position();
    const next = s.next();
    const resumed = createMqarTask(OPTIONS).stream({ batch: 4, seed: 9, position }).next();
    expect(resumed.inputs.arraySync()).toEqual(next.inputs.arraySync());
    expect(resumed.labels.arraySync()).toEqual(next.labels.arraySync());
    expect(next.inputs.dtype).toBe("int32");
    expect(next.tokens).toBe(4 * 16);
  });

  it("adapts decoder specs and refuses others and impossible sizes", () => {
    const task = createMqarTask(OPTIONS);
    expect(task.adaptSpec(preset("dense"))).toMatchObject({ vocabSize: 64, seqLen: 32 });
    expect(() => task.adaptSpec(preset("vit-tiny"))).toThrow(/must be a decoder/);
    expect(() => createMqarTask({ ...OPTIONS, vocabSize: 10 })).toThrow(OptionError);
    expect(() => createMqarTask({ ...OPTIONS, numKvPairs: 5 })).toThrow(/numKvPairs/);
    expect(() => createMqarTask({ colour: "red" })).toThrow(/colour/);
    expect(kvPairsAt({ ...task.options, numKvPairs: 4, seqLen: 64 } as never, 256)).toBe(16);
  });
});
