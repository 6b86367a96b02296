// MNIST digit classification on the real digits of the `mnist` package (datasets' loadMnist: 8,000
// train and 2,000 test images, a fixed stratified split). Vision models only; the loss is softmax
// cross-entropy; evaluation reports test accuracy and loss. inspect() shows which regions the
// bi-level routing attention layers route to (mnist-routing.ts).
import * as tf from "@tensorflow/tfjs";
import { OptionError, assertInteger, assertKnownOptions } from "@attnkit/core";
import { batches, column, loadMnist, MNIST_IMAGE_SHAPE, type BatchPosition } from "@attnkit/datasets";
import type { ModelSpec } from "@attnkit/models";
import type { EvalRow } from "../run-files";
import { routedRegions } from "./mnist-routing";
import type { Task, TaskEvalOptions, TaskInspection, TaskStream } from "./task";

const NAME = "mnist";
const CLASSES = 10;
// The stream and adaptSpec are synchronous, so the digits (a CommonJS package) are loaded at import.
const digits = await loadMnist({ seed: 0 });

export interface MnistTaskOptions {
  /** Test images evaluated (the first n of the fixed test order); quick evaluations use a quarter. Default all 2,000. */
  testImages?: number;
  /** Test images whose routings inspect() counts. Default 256. */
  inspectImages?: number;
}

export const MNIST_TRAIN_SIZE = digits.train.count;

export function createMnistTask(options: Record<string, unknown> = {}): Task {
  assertKnownOptions(NAME, options, ["testImages", "inspectImages"]);
  const o = options as MnistTaskOptions;
  const testImages = o.testImages ?? digits.test.count;
  assertInteger(NAME, "testImages", testImages, { min: 1, max: digits.test.count });
  const inspectImages = o.inspectImages ?? 256;
  assertInteger(NAME, "inspectImages", inspectImages, { min: 1, max: digits.test.count });
  const [height, width, channels] = MNIST_IMAGE_SHAPE;
  const train = { inputs: column(digits.train.images, { shape: [...MNIST_IMAGE_SHAPE] }), labels: digits.train.labels };

  /** Test images [from, from + n) as a tensor. */
  const testImagesTensor = (from: number, n: number) => tf.tensor4d(digits.test.images.subarray(from * height * width, (from + n) * height * width), [n, height, width, channels]);

  return {
    name: NAME,
    description: `MNIST digits (the mnist package: ${digits.train.count} train, ${digits.test.count} test images, fixed stratified split); softmax cross-entropy; test accuracy on ${testImages} test images.`,
    options: { testImages, inspectImages },

    adaptSpec(spec: ModelSpec): ModelSpec {
      if (spec.family !== "vision") throw new OptionError(`${NAME}: needs a vision model (images → class logits), got family '${spec.family}'`);
      return { ...spec, image: { height, width, channels }, numClasses: CLASSES };
    },

    stream({ batch, seed, position }): TaskStream {
      const it = batches(train, { batchSize: batch, seed, epochs: Infinity, dropRemainder: true, ...(position === undefined ? {} : { position: position as BatchPosition }) });
      return {
        next() {
          const b = it.next().value!;
          return { inputs: b.inputs!, labels: b.labels!, tokens: b.labels!.shape[0]! };
        },
        position: () => it.position,
      };
    },

    loss: (labels, output) => tf.tidy(() => tf.losses.softmaxCrossEntropy(tf.oneHot(tf.cast(labels, "int32"), CLASSES), output) as tf.Scalar),

    async evaluate(model: tf.LayersModel, opts: TaskEvalOptions): Promise<EvalRow[]> {
      const n = opts.quick ? Math.max(1, Math.floor(testImages / 4)) : testImages;
      const chunk = Math.max(1, opts.batch * 4);
      let correct = 0;
      let lossSum = 0;
      for (let from = 0; from < n; from += chunk) {
        const size = Math.min(chunk, n - from);
        const x = testImagesTensor(from, size);
        const labels = tf.tensor1d(digits.test.labels.subarray(from, from + size), "int32");
        const [hits, loss] = tf.tidy(() => {
          const logits = model.predict(x) as tf.Tensor;
          return [tf.equal(logits.argMax(-1), labels).sum(), tf.losses.softmaxCrossEntropy(tf.oneHot(labels, CLASSES), logits).mul(size)];
        });
        correct += (await hits!.data())[0]!;
        lossSum += (await loss!.data())[0]!;
        tf.dispose([x, labels, hits!, loss!]);
      }
      return [{ kind: "eval", step: opts.step, length: null, metrics: { accuracy: correct / n, loss: lossSum / n } }];
    },

    async inspect(model: tf.LayersModel): Promise<TaskInspection> {
      const x = testImagesTensor(0, inspectImages);
      try {
        return await routedRegions(model, x);
      } finally {
        x.dispose();
      }
    },
  };
}
