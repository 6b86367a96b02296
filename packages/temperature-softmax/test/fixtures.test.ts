import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import { backendTolerance, describeBackends, expectClose, loadFixture, toHost, toNumbers, toTensor, type FixtureTensor } from "@attnkit/testing";
import {
  attentionHighpassGain,
  dcEnergyRatio,
  lengthBucketCosine,
  meanPairwiseCosine,
  ssmaxAttention,
  temperatureAttention,
  temperatureSoftmax,
} from "../src/index";
import { keyCounts } from "../src/ops/key-counts";

interface Fixture {
  inputs: Record<string, FixtureTensor>;
  options: Record<string, unknown>;
  expected: Record<string, FixtureTensor>;
  tolerance: { atol: number; rtol: number };
}
const load = (name: string) => loadFixture<Fixture>(new URL(`./fixtures/${name}.json`, import.meta.url));

describeBackends("tempscale fixtures", (backend) => {
  it("temperature_softmax_0", async () => {
    const f = load("temperature_softmax_0");
    const logits = toTensor(f.inputs.logits!);
    const p = temperatureSoftmax(logits, { temperature: f.options.tau as number, axis: f.options.axis as number });
    await expectClose(p, toHost(f.expected.probs!), backendTolerance(backend, f.tolerance));
    tf.dispose([logits, p]);
  });

  it("attention_temperature_causal (output and weights)", async () => {
    const f = load("attention_temperature_causal");
    const [q, k, v] = (["q", "k", "v"] as const).map((n) => toTensor(f.inputs[n]!));
    const { output, weights } = temperatureAttention(q!, k!, v!, {
      temperature: f.options.tau as number,
      causal: f.options.causal as boolean,
      scale: f.options.scale as number | null,
      returnWeights: true,
    });
    const tol = backendTolerance(backend, f.tolerance);
    await expectClose(output, toHost(f.expected.out!), tol);
    await expectClose(weights, toHost(f.expected.probs!), tol);
    tf.dispose([q!, k!, v!, output, weights]);
  });

  it("ssmax_causal_perhead (output and weights)", async () => {
    const f = load("ssmax_causal_perhead");
    const [q, k, v] = (["q", "k", "v"] as const).map((n) => toTensor(f.inputs[n]!));
    const { output, weights } = ssmaxAttention(q!, k!, v!, {
      s: f.options.s as number[],
      b: f.options.b as number,
      causal: f.options.causal as boolean,
      returnWeights: true,
    });
    const tol = backendTolerance(backend, f.tolerance);
    await expectClose(output, toHost(f.expected.out!), tol);
    await expectClose(weights, toHost(f.expected.probs!), tol);
    const [b, h, t, d] = q!.shape as [number, number, number, number];
    const n = keyCounts({ batch: b, heads: h, seqQ: t, seqK: t, dim: d, dimV: d }, true, null);
    const nKeys = n.reshape([1, 1, t]);
    await expectClose(nKeys, toHost(f.expected.n_keys!), tol);
    tf.dispose([q!, k!, v!, output, weights, n, nKeys]);
  });
});

// The metrics are host computations (float64); on WebGPU a tensor has no synchronous read, so the
// tensor path is tested on cpu and wasm, and the host-array path everywhere (it needs no backend).
describeBackends(
  "collapse metric fixture (tensor inputs)",
  () => {
    it("collapse_metrics_0", async () => {
      const f = load("collapse_metrics_0");
      const emb = toTensor(f.inputs.emb!);
      const x = toTensor(f.inputs.x!);
      const attn = toTensor(f.inputs.attn!);
      const lengths = toNumbers(f.inputs.lengths!);
      const edges = f.options.edges as number[];
      const tol = f.tolerance;
      await expectClose(meanPairwiseCosine(emb), toNumbers(f.expected.mean_pairwise_cosine!), tol);
      const buckets = lengthBucketCosine(emb, lengths, edges);
      expect(buckets.every((b) => b !== null)).toBe(true);
      await expectClose(buckets as number[], toNumbers(f.expected.length_bucket_cosine!), tol);
      await expectClose(dcEnergyRatio(x) as number[], toNumbers(f.expected.dc_energy_ratio!), tol);
      await expectClose(attentionHighpassGain(attn) as number[], toNumbers(f.expected.attention_highpass_gain!), tol);
      await expectClose(attentionHighpassGain(attn, { tight: true }) as number[], toNumbers(f.expected.attention_highpass_gain_tight!), tol);
      tf.dispose([emb, x, attn]);
    });
  },
  ["cpu", "wasm"],
);
