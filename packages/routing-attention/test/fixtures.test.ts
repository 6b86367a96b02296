import * as tf from "@tensorflow/tfjs";
import { it } from "vitest";
import { backendTolerance, describeBackends, expectClose, expectEqualInts, loadFixture, toHost, toNumbers, toTensor, type FixtureTensor } from "@attnkit/testing";
import {
  biLevelRoutingAttention,
  biLevelRoutingAttention2d,
  blockRoutingAttention,
  flatTopK,
  hierarchicalTopK,
  indexIoU,
  localContextEnhancement,
} from "../src/index";

interface Fixture {
  options: Record<string, unknown>;
  inputs: Record<string, FixtureTensor>;
  expected: Record<string, FixtureTensor>;
  tolerance: { atol: number; rtol: number };
}
const load = (name: string) => loadFixture<Fixture>(new URL(`./fixtures/${name}.json`, import.meta.url));
const bra1d = load("bra1d_nc_perhead_s16_r4_k2");
const bra2d = load("bra2d_perhead_8x12_g4_k3");
const lce = load("lce_8x8_k5");
const moba = load("moba_s128_b16_k3");
const hisa = load("hisa_noncausal_s64_b8_m3_k10");
const qkv = (f: Fixture) => (["q", "k", "v"] as const).map((n) => toTensor(f.inputs[n]!)) as [tf.Tensor, tf.Tensor, tf.Tensor];

describeBackends("routing fixtures", (backend) => {
  const tol = (f: Fixture) => backendTolerance(backend, f.tolerance);

  it("bra_1d per-head matches outputs and indices", async () => {
    const [q, k, v] = qkv(bra1d);
    const o = bra1d.options;
    const r = biLevelRoutingAttention(q, k, v, { regionSize: o.region_size as number, topK: o.top_k as number, routing: "per-head", scale: o.scale as number, returnIndices: true });
    await expectEqualInts(r.indices, toNumbers(bra1d.expected.indices!), bra1d.expected.indices!.shape);
    await expectClose(r.output, toHost(bra1d.expected.out!), tol(bra1d));
    tf.dispose([q, k, v, r.output, r.indices]);
  });

  it("bra_2d per-head matches outputs and indices", async () => {
    const [q, k, v] = qkv(bra2d);
    const o = bra2d.options;
    const r = biLevelRoutingAttention2d(q, k, v, {
      height: o.height as number,
      width: o.width as number,
      grid: o.grid as number,
      topK: o.top_k as number,
      routing: "per-head",
      scale: o.scale as number,
      returnIndices: true,
    });
    await expectEqualInts(r.indices, toNumbers(bra2d.expected.indices!), bra2d.expected.indices!.shape);
    await expectClose(r.output, toHost(bra2d.expected.out!), tol(bra2d));
    tf.dispose([q, k, v, r.output, r.indices]);
  });

  it("lce matches the depth-wise correlation", async () => {
    const v = toTensor(lce.inputs.v!);
    const kernel = toTensor(lce.inputs.weight!);
    const bias = toTensor(lce.inputs.bias!);
    const out = localContextEnhancement(v, { height: 8, width: 8, kernel, bias });
    await expectClose(out, toHost(lce.expected.out!), tol(lce));
    tf.dispose([v, kernel, bias, out]);
  });

  it("moba matches outputs and past-block indices", async () => {
    const [q, k, v] = qkv(moba);
    const o = moba.options;
    const r = blockRoutingAttention(q, k, v, { blockSize: o.block_size as number, topK: o.top_k as number, scale: o.scale as number, returnIndices: true });
    await expectEqualInts(r.indices, toNumbers(moba.expected.indices!), moba.expected.indices!.shape);
    await expectClose(r.output, toHost(moba.expected.out!), tol(moba));
    tf.dispose([q, k, v, r.output, r.indices]);
  });

  it("hisa selector, flat indexer and IoU match", async () => {
    const q = toTensor(hisa.inputs.q!);
    const k = toTensor(hisa.inputs.k!);
    const o = hisa.options;
    const common = { causal: o.causal as boolean, topTokens: o.top_tokens as number };
    const h = hierarchicalTopK(q, k, { ...common, blockSize: o.block_size as number, topBlocks: o.top_blocks as number, forceSinkLocal: o.force_sink_local as boolean, returnBlocks: true });
    const flat = flatTopK(q, k, common);
    await expectEqualInts(h.indices, toNumbers(hisa.expected.indices!), hisa.expected.indices!.shape);
    await expectEqualInts(h.blocks, toNumbers(hisa.expected.blocks!), hisa.expected.blocks!.shape);
    await expectEqualInts(flat, toNumbers(hisa.expected.flat_indices!), hisa.expected.flat_indices!.shape);
    const iou = indexIoU(h.indices, flat);
    await expectClose(iou, toHost(hisa.expected.iou!), hisa.tolerance);
    const mean = iou.mean();
    await expectClose(mean, toHost(hisa.expected.mean_iou!), hisa.tolerance);
    tf.dispose([q, k, h.indices, h.blocks, flat, iou, mean]);
  });
});
