import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { describeBackends, expectNoLeaks, useBackend } from "@attnkit/testing";
import { OptionError, ShapeError } from "@attnkit/core";
import { batches, column, epochOrder, mqar, padSequences, textWindows, toTfDataset, type Batch, type BatchOptions } from "../src/index";

// 23 examples: odd, so the last batch of an epoch is short.
const N = 23;
const data = {
  id: Array.from({ length: N }, (_, i) => i),
  x: Array.from({ length: N }, (_, i) => [i, i + 0.5, -i]),
  img: column(Float32Array.from({ length: N * 4 }, (_, i) => i / 4), { shape: [2, 2, 1] }),
};

async function read(batch: Batch): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const [name, t] of Object.entries(batch)) out[name] = Array.from(await t.data());
  tf.dispose(Object.values(batch));
  return out;
}

async function drain(it: Iterator<Batch>, limit = Infinity): Promise<Record<string, number[]>[]> {
  const out: Record<string, number[]>[] = [];
  while (out.length < limit) {
    const r = it.next();
    if (r.done) break;
    out.push(await read(r.value));
  }
  return out;
}

describe("batches", () => {
  beforeAll(() => useBackend("cpu"));

  it("gathers every column into [batch, ...shape] tensors of the right dtype", async () => {
    const it = batches(data, { batchSize: 5, shuffle: false });
    const first = it.next().value as Batch;
    expect(first.id!.shape).toEqual([5]);
    expect(first.id!.dtype).toBe("int32");
    expect(first.x!.shape).toEqual([5, 3]);
    expect(first.x!.dtype).toBe("float32");
    expect(first.img!.shape).toEqual([5, 2, 2, 1]);
    const got = await read(first);
    expect(got.id).toEqual([0, 1, 2, 3, 4]);
    expect(got.x!.slice(3, 6)).toEqual([1, 1.5, -1]);
    expect(got.img!.slice(4, 8)).toEqual([1, 1.25, 1.5, 1.75]);
  });

  it("visits every example once per epoch, reshuffled each epoch, short last batch kept", async () => {
    const all = await drain(batches(data, { batchSize: 5, seed: 3, epochs: 3 }));
    expect(all.map((b) => b.id!.length)).toEqual([5, 5, 5, 5, 3, 5, 5, 5, 5, 3, 5, 5, 5, 5, 3]);
    const epochs = [0, 1, 2].map((e) => all.slice(5 * e, 5 * e + 5).flatMap((b) => b.id!));
    for (const ids of epochs) expect([...ids].sort((a, b) => a - b)).toEqual(data.id);
    expect(epochs[0]).not.toEqual(epochs[1]);
    expect(epochs[0]).not.toEqual(data.id);
    // Rows stay aligned across columns.
    for (const b of all) b.id!.forEach((i, r) => expect(b.x!.slice(3 * r, 3 * r + 3)).toEqual([i, i + 0.5, -i]));
    expect(epochs[1]).toEqual(epochOrder(N, 3, 1));
  });

  it("is deterministic under a seed and differs across seeds", async () => {
    const a = await drain(batches({ id: data.id }, { batchSize: 4, seed: 11 }));
    const b = await drain(batches({ id: data.id }, { batchSize: 4, seed: 11 }));
    const c = await drain(batches({ id: data.id }, { batchSize: 4, seed: 12 }));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it("resumes from a saved position exactly like an uninterrupted run", async () => {
    const options: BatchOptions = { batchSize: 4, seed: 7, epochs: 4, dropRemainder: true };
    const whole = await drain(batches(data, options));
    expect(whole.length).toBe(4 * 5);
    for (const stopAt of [0, 1, 5, 7, 13, 19]) {
      const first = batches(data, options);
      const head = await drain(first, stopAt);
      // A checkpoint stores the position as JSON; a new process continues from it.
      const saved = JSON.parse(JSON.stringify(first.position));
      const tail = await drain(batches(data, { ...options, position: saved }));
      expect([...head, ...tail]).toEqual(whole);
    }
    const it = batches(data, options);
    it.seek({ epoch: 2, batch: 3 });
    expect(await drain(it)).toEqual(whole.slice(13));
  });

  it("drops the remainder on request and runs forever with epochs: Infinity", async () => {
    const it = batches({ id: data.id }, { batchSize: 10, dropRemainder: true, epochs: Infinity });
    expect(it.batchesPerEpoch).toBe(2);
    const got = await drain(it, 7);
    expect(got.length).toBe(7);
    expect(got.every((b) => b.id!.length === 10)).toBe(true);
    expect(it.position).toEqual({ epoch: 3, batch: 1 });
    expect(it.done).toBe(false);
    expect((await drain(batches({ id: [1, 2] }, { batchSize: 3, dropRemainder: true, epochs: Infinity }))).length).toBe(0);
  });

  it("is iterable with for…of and batches MQAR and text windows", async () => {
    const task = mqar({ seed: 1, vocabSize: 64, numKvPairs: 2, seqLen: 16, numExamples: 10 });
    let rows = 0;
    for (const b of batches(task, { batchSize: 4, seed: 1 })) {
      expect(b.inputs!.dtype).toBe("int32");
      expect(b.labels!.shape[1]).toBe(16);
      rows += b.inputs!.shape[0]!;
      tf.dispose(Object.values(b));
    }
    expect(rows).toBe(10);
    const stream = Int32Array.from({ length: 50 }, (_, i) => i);
    const [b] = await drain(batches(textWindows(stream, { seqLen: 8 }), { batchSize: 2, shuffle: false }), 1);
    expect(b!.inputs).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    expect(b!.labels).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
  });

  it("takes any numeric typed array and infers dtypes", async () => {
    expect(column(Uint16Array.from([1, 2])).dtype).toBe("int32");
    expect(column(Float64Array.from([1, 2])).dtype).toBe("float32");
    expect(column([0.5, 1]).dtype).toBe("float32");
    expect(column([[1, 2]], { dtype: "float32" }).dtype).toBe("float32");
    const [b] = await drain(batches({ a: Uint8Array.from([7, 8, 9]), b: column(Float64Array.from([1, 2, 3, 4, 5, 6]), { shape: [2] }) }, { batchSize: 3, shuffle: false }));
    expect(b).toEqual({ a: [7, 8, 9], b: [1, 2, 3, 4, 5, 6] });
  });

  it("leaks nothing beyond the batch it returns", async () => {
    const it = batches(data, { batchSize: 6, seed: 2 });
    await expectNoLeaks(() => it.next().value);
  });

  it("rejects bad input with OptionError or ShapeError naming the argument", () => {
    expect(() => batches(data, { batchSize: 0 })).toThrow(/batches: batchSize must be an integer ≥ 1/);
    expect(() => batches(data, { batchSize: 2, epochs: -1 })).toThrow(/batches: epochs/);
    expect(() => batches(data, { batchSize: 2, shuffle: 1 as never })).toThrow(/batches: shuffle must be true or false/);
    expect(() => batches(data, { batchSize: 2, seed: 1.5 })).toThrow(/batches: seed/);
    expect(() => batches(data, { batchSize: 2, size: 3 } as never)).toThrow(/unknown option 'size'/);
    expect(() => batches(data, { batchSize: 5, position: { epoch: 0, batch: 5 } })).toThrow(/batches: position.batch must be an integer in \[0, 4\]/);
    expect(() => batches(data, { batchSize: 5, position: { epoch: -1, batch: 0 } })).toThrow(OptionError);
    expect(() => batches({}, { batchSize: 2 })).toThrow(/columns must name at least one column/);
    expect(() => batches({ a: [1, 2], b: [1, 2, 3] }, { batchSize: 2 })).toThrow(ShapeError);
    expect(() => batches({ a: [[1, 2], [3]] }, { batchSize: 2 })).toThrow(/batches: columns.a must be rectangular/);
    expect(() => column(new Float32Array(10), { shape: [3] })).toThrow(/not a multiple of the example shape \[3\]/);
    expect(() => column([1], { dtype: "float64" as never })).toThrow(OptionError);
    expect(() => column("abc" as never)).toThrow(/column: data must be an array, a typed array or a Column/);
  });
});

describe("toTfDataset", () => {
  beforeAll(() => useBackend("cpu"));

  it("yields the iterator's batches, continuing the seeded epochs on each new pass", async () => {
    const options: BatchOptions = { batchSize: 5, seed: 4, epochs: 2 };
    const passes = await drain(batches(data, { ...options, epochs: 6 }));
    const collect = async (ds: ReturnType<typeof toTfDataset>): Promise<Record<string, number[]>[]> => {
      const got: Record<string, number[]>[] = [];
      const it = await ds.iterator();
      for (let r = await it.next(); !r.done; r = await it.next()) got.push(await read(r.value as Batch));
      return got;
    };
    const ds = toTfDataset(data, options);
    expect(await collect(ds)).toEqual(passes.slice(0, 10));
    expect(await collect(ds)).toEqual(passes.slice(10, 20));
    let count = 0;
    await ds.forEachAsync((b) => {
      count++;
      tf.dispose(b);
    });
    expect(count).toBe(10);
    const same = toTfDataset(data, { ...options, reshuffleEachIteration: false });
    expect(await collect(same)).toEqual(passes.slice(0, 10));
    expect(await collect(same)).toEqual(passes.slice(0, 10));
    // A saved position resumes the first pass exactly.
    const resumed = toTfDataset(data, { ...options, position: { epoch: 1, batch: 2 } });
    expect(await collect(resumed)).toEqual(passes.slice(7, 10));
  });

  it("feeds model.fitDataset as { xs, ys } without leaking", async () => {
    const xs = Array.from({ length: 32 }, (_, i) => [i / 32, 1 - i / 32]);
    const ys = xs.map(([a, b]) => [2 * a! - b!]);
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [2] })] });
    model.compile({ optimizer: tf.train.sgd(0.1), loss: "meanSquaredError" });
    const ds = toTfDataset({ inputs: xs, targets: ys, unused: xs.map((_, i) => i) }, { batchSize: 8, seed: 0, xs: "inputs", ys: "targets" });
    const before = tf.memory().numTensors;
    const history = await model.fitDataset(ds, { epochs: 5, verbose: 0 });
    const loss = history.history.loss as number[];
    expect(loss[4]).toBeLessThan(loss[0]!);
    // Weights and optimizer slots are the only tensors allowed to stay.
    expect(tf.memory().numTensors - before).toBeLessThanOrEqual(4);
    model.dispose();
  });

  it("rejects bad options", () => {
    expect(() => toTfDataset(data, { batchSize: 2, xs: "x" })).toThrow(/toTfDataset: xs and ys must be given together/);
    expect(() => toTfDataset(data, { batchSize: 2, xs: "x", ys: "nope" })).toThrow(/toTfDataset: ys names the column "nope"/);
    expect(() => toTfDataset(data, { batchSize: -2 })).toThrow(/batchSize/);
    expect(() => toTfDataset(data, { batchSize: 2, reshuffleEachIteration: 0 as never })).toThrow(/toTfDataset: reshuffleEachIteration must be true or false/);
  });
});

describe("padSequences", () => {
  it("pads ragged rows on either side", () => {
    expect(padSequences([[1], [2, 3, 4]])).toEqual([[1, 0, 0], [2, 3, 4]]);
    expect(padSequences([[1]], { length: 3, value: -100, side: "left" })).toEqual([[-100, -100, 1]]);
    expect(() => padSequences([[1, 2]], { length: 1 })).toThrow(/padSequences: length must be an integer ≥ 2/);
  });
});

// Batches are host data turned into tensors; check that every backend receives the same values.
describeBackends("batches tensors", () => {
  it("match the host data and resume exactly", async () => {
    const options: BatchOptions = { batchSize: 6, seed: 5, epochs: 2 };
    const whole = await drain(batches(data, options));
    const first = batches(data, options);
    const head = await drain(first, 3);
    const tail = await drain(batches(data, { ...options, position: first.position }));
    expect([...head, ...tail]).toEqual(whole);
    for (const b of whole) b.id!.forEach((i, r) => expect(b.img!.slice(4 * r, 4 * r + 4)).toEqual([i, i + 0.25, i + 0.5, i + 0.75]));
  });

  it("leak nothing", async () => {
    await expectNoLeaks(() => batches(data, { batchSize: 4 }).next().value);
  });
});
