// Which regions bi-level routing attention routes to: for every BRA layer, the layer's region routing
// is recomputed on its own inputs (the routing op with returnIndices on the layer's q and k), and the
// key regions chosen by all query regions are counted into a grid × grid heatmap.
import * as tf from "@tensorflow/tfjs";
import { batchMatMul } from "@attnkit/core";
import { BiLevelRoutingAttention, biLevelRoutingAttention2d } from "@attnkit/routing-attention";
import type { ChartSpec, ReportTable } from "../report/types";
import type { TaskInspection } from "./task";

interface LayerRouting {
  name: string;
  grid: number;
  topK: number;
  /** Share of all routing choices that pick each region, row-major. */
  share: number[];
  /** Share of query regions whose own region is among their topK. */
  selfRate: number;
  /** Mean distance (in regions) between a query region and the regions it routes to. */
  meanDistance: number;
}

/** Routing indices `[b, h, regions, topK]` of one BRA layer for its input `x: [b, H, W, C]`. */
function layerIndices(layer: BiLevelRoutingAttention, x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [b, height, width, channels] = x.shape as [number, number, number, number];
    const qk = layer.qkDimArg ?? channels;
    const [kernel, bias] = layer.getWeights();
    const qkv = batchMatMul(x.reshape([b * height * width, channels]), kernel!).add(bias!);
    const split = (from: number, size: number) => qkv.slice([0, from], [-1, size]).reshape([b, height * width, layer.heads, size / layer.heads]).transpose([0, 2, 1, 3]);
    const r = biLevelRoutingAttention2d(split(0, qk), split(qk, qk), split(2 * qk, channels), { height, width, grid: layer.grid, topK: layer.topK, routing: layer.routing, returnIndices: true });
    return r.indices;
  });
}

async function summarizeLayer(layer: BiLevelRoutingAttention, indices: tf.Tensor): Promise<LayerRouting> {
  const g = layer.grid;
  // Shared routing repeats one choice for every head: count it once.
  const heads = layer.routing === "shared" ? 1 : indices.shape[1]!;
  const idx = (await indices.array()) as number[][][][];
  const counts = new Array<number>(g * g).fill(0);
  let own = 0;
  let queries = 0;
  let distance = 0;
  for (const image of idx) {
    for (const head of image.slice(0, heads)) {
      head.forEach((chosen, region) => {
        queries += 1;
        if (chosen.includes(region)) own += 1;
        for (const r of chosen) {
          counts[r] = counts[r]! + 1;
          distance += Math.hypot(Math.floor(r / g) - Math.floor(region / g), (r % g) - (region % g));
        }
      });
    }
  }
  const total = counts.reduce((a, b) => a + b, 0);
  return { name: layer.name, grid: g, topK: layer.topK, share: counts.map((c) => c / total), selfRate: own / queries, meanDistance: distance / total };
}

/** Routed-region heatmaps and locality of every BRA layer of `model` on images `x`; empty for models without BRA. */
export async function routedRegions(model: tf.LayersModel, x: tf.Tensor): Promise<TaskInspection> {
  const layers = model.layers.filter((l): l is BiLevelRoutingAttention => l instanceof BiLevelRoutingAttention);
  if (layers.length === 0) return {};
  const probe = tf.model({ inputs: model.inputs, outputs: layers.map((l) => l.input as tf.SymbolicTensor) });
  const out = probe.predict(x);
  const inputs = Array.isArray(out) ? out : [out];
  const routings: LayerRouting[] = [];
  for (const [i, layer] of layers.entries()) {
    const indices = layerIndices(layer, inputs[i]!);
    routings.push(await summarizeLayer(layer, indices));
    indices.dispose();
  }
  tf.dispose(inputs);
  const charts: ChartSpec[] = routings.map((r) => ({
    title: `Routed regions of ${r.name} (share of all top-${r.topK} choices, ${x.shape[0]} test digits)`,
    kind: "heatmap",
    data: r.share.map((s, region) => ({ column: region % r.grid, row: Math.floor(region / r.grid), share: s })),
    x: "column",
    y: "row",
    value: "share",
    xType: "ordinal",
    yType: "ordinal",
  }));
  const tables: ReportTable[] = [
    {
      title: "Bi-level routing: where queries route",
      columns: ["layer", "grid", "topK", "own region routed", "mean distance (regions)", "busiest region share"],
      rows: routings.map((r) => [r.name, `${r.grid}×${r.grid}`, r.topK, r.selfRate, r.meanDistance, Math.max(...r.share)]),
      note: "Uniform routing would give every region a share of 1/grid²; a high own-region rate and a short distance mean local routing.",
    },
  ];
  return { tables, charts };
}
