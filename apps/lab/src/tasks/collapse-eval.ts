// The collapse metrics of an encoder at one attention temperature τ: the model's weights in a copy whose
// TempScale layers use τ, then per passage length: the mean pairwise cosine of the pooled embeddings
// (length-bucket cosine), σ_a of every layer's attention matrices (mean over layers, heads and the first
// passages) and the DC energy ratio of the last block's hidden states (mean over passages).
import * as tf from "@tensorflow/tfjs";
import { batchMatMul } from "@attnkit/core";
import { defineModel, layerNames, type AttentionSpec, type TextModelSpec } from "@attnkit/models";
import { TempScaleAttention, attentionHighpassGain, dcEnergyRatio, lengthBucketCosine, temperatureAttention } from "@attnkit/temperature-softmax";

/** The encoder with every attention layer's τ set to `tau`, sharing no variables with `model` (dispose it). */
function withTemperature(model: tf.LayersModel, spec: TextModelSpec, tau: number): tf.LayersModel {
  const attention: AttentionSpec = { kind: "tempscale", temperatureMode: "fixed", temperature: tau };
  const copy = defineModel({
    ...spec,
    attention,
    ...(spec.attn ? { attn: { ...spec.attn, attention } } : {}),
    ...(spec.layers ? { layers: spec.layers.map((l) => ({ ...l, attention })) } : {}),
  });
  copy.setWeights(model.getWeights());
  return copy;
}

/** σ_a of the attention matrices `[b, h, n, n]` of one TempScale layer on its input `x`, averaged over (b, h). */
async function sigmaA(layer: TempScaleAttention, x: tf.Tensor, tau: number): Promise<number> {
  const weights = tf.tidy(() => {
    const [b, n, d] = x.shape as [number, number, number];
    // Weights in build order: query kernel (and bias), key kernel (and bias), ...
    const w = layer.getWeights();
    const per = layer.useBias ? 2 : 1;
    const heads = (j: number) => {
      const y = batchMatMul(x.reshape([b * n, d]), w[j * per]!);
      return (layer.useBias ? y.add(w[j * per + 1]!) : y).reshape([b, n, layer.numHeads, layer.keyDim]).transpose([0, 2, 1, 3]);
    };
    const q = heads(0);
    const k = heads(1);
    const r = temperatureAttention(q, k, k, { temperature: tau, causal: layer.causal, scale: layer.scale, returnWeights: true });
    return r.weights.reshape([b * layer.numHeads, n, n]);
  });
  const gains = attentionHighpassGain((await weights.array()) as number[][][]) as number[];
  weights.dispose();
  return gains.reduce((a, g) => a + g, 0) / gains.length;
}

/** Metrics per passage group (`texts[i]`: passages of one length) at temperature `tau`. */
export async function collapseMetrics(model: tf.LayersModel, spec: TextModelSpec, tau: number, texts: number[][][], o: { sigmaPassages: number; batch: number }): Promise<Record<string, number>[]> {
  const m = withTemperature(model, spec, tau);
  const norms = Array.from({ length: spec.numLayers }, (_, i) => m.getLayer(layerNames.attnNorm(i)).output as tf.SymbolicTensor);
  const last = m.getLayer(layerNames.ffnAdd(spec.numLayers - 1)).output as tf.SymbolicTensor;
  const probe = tf.model({ inputs: m.inputs, outputs: [...norms, last, m.outputs[0]!] });
  const pooled: number[][] = [];
  const lengths: number[] = [];
  const partial: { sigma: number; dc: number }[] = [];
  try {
    for (const group of texts) {
      const n = group[0]!.length;
      let dcSum = 0;
      let sigmaSum = 0;
      let sigmaCount = 0;
      for (let from = 0; from < group.length; from += o.batch) {
        const rows = group.slice(from, from + o.batch);
        const x = tf.tensor2d(rows, undefined, "int32");
        const outs = probe.predict(x) as tf.Tensor[];
        x.dispose();
        const hidden = outs[spec.numLayers]!;
        pooled.push(...((await outs[spec.numLayers + 1]!.array()) as number[][]));
        lengths.push(...rows.map(() => n));
        dcSum += (dcEnergyRatio((await hidden.array()) as number[][][]) as number[]).reduce((a, v) => a + v, 0);
        const sigmaRows = Math.max(0, Math.min(rows.length, o.sigmaPassages - from));
        if (sigmaRows > 0) {
          for (let i = 0; i < spec.numLayers; i++) {
            const input = outs[i]!.slice([0, 0, 0], [sigmaRows, -1, -1]);
            sigmaSum += await sigmaA(m.getLayer(layerNames.attn(i)) as TempScaleAttention, input, tau);
            sigmaCount += 1;
            input.dispose();
          }
        }
        tf.dispose(outs);
      }
      partial.push({ sigma: sigmaSum / sigmaCount, dc: dcSum / group.length });
    }
  } finally {
    m.dispose();
  }
  const edges = [...new Set(lengths)].sort((a, b) => a - b);
  const cosine = lengthBucketCosine(pooled, lengths, [...edges, Infinity]);
  return texts.map((group, i) => ({
    cosine: cosine[edges.indexOf(group[0]!.length)]!,
    sigmaA: partial[i]!.sigma,
    dcEnergy: partial[i]!.dc,
  }));
}
