// One check for every attnkit layer: config round trip, weight count, symbolic and eager calls agree,
// one training step lowers the loss, no leaks, and save/load gives equal outputs.
import * as tf from "@tensorflow/tfjs";
import { expect } from "vitest";
import { withSeededRandom } from "@attnkit/core";
import { expectClose } from "./close";
import { expectNoLeaks } from "./leaks";
import { randomValues } from "./property";

export interface LayerTestOptions {
  /** Builds the layer under test (a fresh instance per call). */
  make: () => tf.layers.Layer;
  /** Input shape without the batch dimension (one per input for multi-input layers). */
  inputShape: number[] | number[][];
  /** Batch size of the eager and training calls (default 2). */
  batch?: number;
  /** Number of weight tensors the layer must own after it is built (trainable and not). */
  expectedWeights: number;
  /** Input dtype (default float32); int32 inputs are drawn from [0, intRange). */
  inputDtype?: "float32" | "int32";
  intRange?: number;
  /** Tolerance of output comparisons (default atol 1e-5, rtol 1e-4). */
  tolerance?: { atol: number; rtol: number };
  /** Seed of the initial weights (default 1). */
  seed?: number;
  /** Learning rate of the one Adam step (default 1e-2). */
  learningRate?: number;
}

function makeInputs(opts: LayerTestOptions, seed: number): tf.Tensor[] {
  const shapes = (Array.isArray(opts.inputShape[0]) ? opts.inputShape : [opts.inputShape]) as number[][];
  const batch = opts.batch ?? 2;
  return shapes.map((shape, i) => {
    const full = [batch, ...shape];
    const size = full.reduce((a, b) => a * b, 1);
    const vals = randomValues(size, seed + i);
    if (opts.inputDtype === "int32") {
      const range = opts.intRange ?? 16;
      return tf.tensor(Array.from(vals, (v) => Math.floor(((v + 1) / 2) * range) % range), full, "int32");
    }
    return tf.tensor(vals, full, "float32");
  });
}

function asList(x: tf.Tensor | tf.Tensor[] | tf.SymbolicTensor | tf.SymbolicTensor[]): (tf.Tensor | tf.SymbolicTensor)[] {
  return Array.isArray(x) ? x : [x];
}

export async function runLayerTest(opts: LayerTestOptions): Promise<void> {
  const tol = opts.tolerance ?? { atol: 1e-5, rtol: 1e-4 };
  const shapes = (Array.isArray(opts.inputShape[0]) ? opts.inputShape : [opts.inputShape]) as number[][];
  const dtype = opts.inputDtype ?? "float32";

  // Initial weights from a fixed seed (TF.js initialisers without one draw from Math.random): the checks
  // below, the one Adam step above all, give the same result in every run.
  const seeded = <T>(build: () => T): T => withSeededRandom(opts.seed ?? 1, build);

  // 1. Config round trip through JSON: the rebuilt layer has the same config.
  const layer = seeded(() => opts.make());
  const config = layer.getConfig();
  const cls = layer.constructor as tf.serialization.SerializableConstructor<tf.layers.Layer>;
  expect(tf.serialization.getRegisteredName(cls), "registered name").toBe(`attnkit>${layer.getClassName()}`);
  const clone = (cls as unknown as { fromConfig: (c: unknown, cfg: tf.serialization.ConfigDict) => tf.layers.Layer }).fromConfig(
    cls,
    JSON.parse(JSON.stringify(config)) as tf.serialization.ConfigDict,
  );
  const { name: _a, ...configA } = config;
  const { name: _b, ...configB } = clone.getConfig();
  expect(configB).toEqual(configA);

  // 2. Symbolic call inside a model; weight count.
  const inputs = shapes.map((s) => tf.input({ shape: s, dtype }));
  const symbolic = seeded(() => layer.apply(inputs.length === 1 ? inputs[0]! : inputs) as tf.SymbolicTensor | tf.SymbolicTensor[]);
  const model = tf.model({ inputs, outputs: symbolic });
  expect(layer.weights.length, "number of weight tensors").toBe(opts.expectedWeights);

  // 3. Eager call equals the model's prediction, with the shape computeOutputShape promised.
  const x = makeInputs(opts, 11);
  const xArg = x.length === 1 ? x[0]! : x;
  const eager = asList(layer.apply(xArg) as tf.Tensor | tf.Tensor[]) as tf.Tensor[];
  const predicted = asList(model.predict(xArg) as tf.Tensor | tf.Tensor[]) as tf.Tensor[];
  const symbolicList = asList(symbolic) as tf.SymbolicTensor[];
  for (const [i, e] of eager.entries()) {
    expect(e.shape.slice(1)).toEqual(symbolicList[i]!.shape.slice(1));
    await expectClose(e, predicted[i]!, tol);
  }
  tf.dispose([...eager, ...predicted]);

  // 4. Leak check of an eager call.
  await expectNoLeaks(() => layer.apply(xArg));

  // 5. One training step lowers the loss (mean squared error to a fixed random target).
  const targets = (model.outputs as tf.SymbolicTensor[]).map((o, i) => {
    const shape = [opts.batch ?? 2, ...o.shape.slice(1)] as number[];
    return tf.tensor(randomValues(shape.reduce((a, b) => a * b, 1), 97 + i), shape);
  });
  model.compile({ optimizer: tf.train.adam(opts.learningRate ?? 1e-2), loss: "meanSquaredError" });
  const lossOf = async (): Promise<number> => {
    const r = model.evaluate(xArg, targets.length === 1 ? targets[0]! : targets, { batchSize: opts.batch ?? 2 });
    const list = Array.isArray(r) ? r : [r];
    const v = (await list[0]!.data())[0]!;
    tf.dispose(list);
    return v;
  };
  const before = await lossOf();
  await model.fit(xArg, targets.length === 1 ? targets[0]! : targets, { epochs: 1, batchSize: opts.batch ?? 2, verbose: 0, shuffle: false });
  const after = await lossOf();
  expect(Number.isFinite(after), "loss after one step is finite").toBe(true);
  expect(after, "loss after one Adam step").toBeLessThan(before);

  // 6. save / loadLayersModel through memory gives equal outputs.
  let artifacts: tf.io.ModelArtifacts | null = null;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
    }),
  );
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts!));
  const a = asList(model.predict(xArg) as tf.Tensor | tf.Tensor[]) as tf.Tensor[];
  const b = asList(loaded.predict(xArg) as tf.Tensor | tf.Tensor[]) as tf.Tensor[];
  for (const [i, t] of a.entries()) await expectClose(b[i]!, t, tol);
  tf.dispose([...a, ...b, ...x, ...targets]);
  model.dispose();
  loaded.dispose();
}
