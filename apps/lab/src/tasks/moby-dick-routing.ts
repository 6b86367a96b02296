// MoE routing of a fixed validation batch: expert load, routing entropy and load-balancing loss (the
// MoE layers' own statistics of the call), and routing fluctuation (StableMoE: the share of tokens whose
// top-1 expert, or top-k set, changed) against the previous evaluation, whose routing is kept in the run
// directory. The routing is recomputed with moe-routing's gate ops on each MoE layer's own inputs.
import { mkdir, readdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { MoE, attentionAwareGate, routingFluctuation, similarityAwareGate, topKGate } from "@attnkit/moe-routing";

const ROUTING_DIR = "routing";

/** Expert indices `[b, T, topK]` the layer chose for its inputs (x, and the attention for the attention router). */
function layerIndices(layer: MoE, inputs: tf.Tensor[]): tf.Tensor {
  return tf.tidy(() => {
    const o = layer.options;
    const weights = layer.getWeights();
    const [x, attention] = inputs;
    const base = { topK: o.topK, bias: weights[1]!, renormalize: o.renormalize };
    const graph = { weightsFrom: o.weightsFrom, mixing: o.mixing };
    if (o.router === "softmax") return topKGate(x!, weights[0]!, base).indices;
    if (o.router === "similarity") {
      const wSim = o.learnSimilarity ? weights[weights.length - 1]! : undefined;
      return similarityAwareGate(x!, weights[0]!, { ...base, ...graph, temperature: o.temperature, kind: o.similarity, causal: o.causal, ...(wSim ? { wSim } : {}) }).indices;
    }
    return attentionAwareGate(x!, weights[0]!, attention!, { ...base, ...graph, headReduce: o.headReduce, head: o.head }).indices;
  });
}

interface SavedRouting {
  step: number;
  topK: number;
  /** Per MoE layer, the flat [tokens · topK] expert ids. */
  layers: number[][];
}

async function previousRouting(dir: string, step: number): Promise<SavedRouting | null> {
  const files = await readdir(join(dir, ROUTING_DIR)).catch(() => [] as string[]);
  const steps = files.map((f) => /^step-(\d+)\.json$/.exec(f)).filter((m) => m !== null).map((m) => Number(m[1])).filter((s) => s < step);
  if (steps.length === 0) return null;
  const latest = Math.max(...steps);
  return JSON.parse(await readFile(join(dir, ROUTING_DIR, `step-${latest}.json`), "utf8")) as SavedRouting;
}

async function saveRouting(dir: string, routing: SavedRouting): Promise<void> {
  await mkdir(join(dir, ROUTING_DIR), { recursive: true });
  const file = join(dir, ROUTING_DIR, `step-${routing.step}.json`);
  // Written atomically: an interrupted evaluation never leaves a half file for the next comparison.
  await writeFile(`${file}.tmp`, JSON.stringify(routing));
  await rename(`${file}.tmp`, file);
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * Routing metrics of every MoE layer on `inputs` (token ids of a fixed validation batch), averaged over
 * layers: `routingEntropy` (nats), `balanceLoss` (1 = uniform), `loadMax` (the busiest expert's share
 * × experts: 1 = balanced); with `dir`, also `fluctuationTop1` / `fluctuationSet` against the previous
 * evaluation's routing stored there. Empty for models without MoE layers.
 */
export async function routingMetrics(model: tf.LayersModel, inputs: tf.Tensor, where: { step: number; dir?: string | undefined }): Promise<Record<string, number>> {
  const layers = model.layers.filter((l): l is MoE => l instanceof MoE);
  if (layers.length === 0) return {};
  const layerInputs = layers.map((l) => (Array.isArray(l.input) ? l.input : [l.input]) as tf.SymbolicTensor[]);
  const probe = tf.model({ inputs: model.inputs, outputs: layerInputs.flat() });
  const out = probe.predict(inputs);
  const flat = Array.isArray(out) ? out : [out];
  const current: SavedRouting = { step: where.step, topK: layers[0]!.options.topK, layers: [] };
  let at = 0;
  for (const [i, layer] of layers.entries()) {
    const mine = flat.slice(at, at + layerInputs[i]!.length);
    at += layerInputs[i]!.length;
    const indices = layerIndices(layer, mine);
    current.layers.push(Array.from(await indices.data()));
    indices.dispose();
  }
  tf.dispose(flat);
  // The layers' own statistics of a forward pass over the same batch.
  tf.dispose(model.predict(inputs) as tf.Tensor);
  const stats = await Promise.all(layers.map((l) => l.routingStats()));
  const metrics: Record<string, number> = {
    routingEntropy: mean(stats.map((s) => s!.entropy)),
    balanceLoss: mean(stats.map((s) => s!.balanceLoss)),
    loadMax: mean(stats.map((s) => Math.max(...s!.load) * s!.load.length)),
  };
  if (where.dir !== undefined) {
    const previous = await previousRouting(where.dir, where.step);
    if (previous && previous.layers.length === current.layers.length && previous.topK === current.topK) {
      const changes = await Promise.all(
        current.layers.map(async (ids, i) => {
          const [a, b] = [tf.tensor2d(previous.layers[i]!, [ids.length / current.topK, current.topK], "int32"), tf.tensor2d(ids, [ids.length / current.topK, current.topK], "int32")];
          const f = await routingFluctuation(a, b);
          tf.dispose([a, b]);
          return f;
        }),
      );
      metrics.fluctuationTop1 = mean(changes.map((c) => c.top1));
      metrics.fluctuationSet = mean(changes.map((c) => c.set));
    }
    await saveRouting(where.dir, current);
  }
  return metrics;
}
