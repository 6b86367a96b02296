// The vision family: patch embedding, optional learned positions, stages of pre-norm blocks on the
// token grid (softmax self-attention as ViT, or BiFormer's bi-level routing attention with LCE), patch
// merging between stages, final RMSNorm, mean pool, linear classifier → logits [batch, numClasses].
// Simplification (said so): BiFormer's blocks also have a depth-wise conv position encoding before
// attention and LayerNorm instead of RMSNorm; here positions come from the table or LCE only.
import * as tf from "@tensorflow/tfjs";
import { BiLevelRoutingAttention } from "@attnkit/routing-attention";
import { FeedForward } from "./layers/feed-forward";
import { PatchEmbedding } from "./layers/patch-embedding";
import { PositionEmbedding } from "./layers/position-embedding";
import { RMSNorm } from "./layers/rms-norm";
import { SelfAttention } from "./layers/self-attention";
import { stageGrids, type VisionModelSpec } from "./spec";

export function defineVisionModel(s: VisionModelSpec): tf.LayersModel {
  const seed = (offset: number) => (s.seed === undefined ? null : s.seed + 101 * offset);
  const eps = s.normEps ?? 1e-6;
  const grids = stageGrids(s);
  const images = tf.input({ shape: [s.image.height, s.image.width, s.image.channels], name: "images" });
  let x = new PatchEmbedding({ name: "patch_embedding", patchSize: s.patchSize, dModel: s.stages[0]!.dModel, seed: seed(0) }).apply(images) as tf.SymbolicTensor;
  s.stages.forEach((stage, si) => {
    const { height, width } = grids[si]!;
    const d = stage.dModel;
    if (si > 0) x = new PatchEmbedding({ name: `stage${si}_merge`, patchSize: s.mergeSize ?? 2, dModel: d, seed: seed(10 * si) }).apply(x) as tf.SymbolicTensor;
    if (si === 0 && (s.position ?? "learned") === "learned") {
      const flat = tf.layers.reshape({ targetShape: [height * width, d] }).apply(x) as tf.SymbolicTensor;
      const withPos = new PositionEmbedding({ name: "position_embedding", maxLength: height * width, dModel: d, seed: seed(999) }).apply(flat) as tf.SymbolicTensor;
      x = tf.layers.reshape({ targetShape: [height, width, d] }).apply(withPos) as tf.SymbolicTensor;
    }
    for (let li = 0; li < stage.numLayers; li++) {
      const tag = `stage${si}_block${li}`;
      const normed = new RMSNorm({ name: `${tag}_attn_norm`, eps }).apply(x) as tf.SymbolicTensor;
      let a: tf.SymbolicTensor;
      const att = stage.attention ?? { kind: "softmax" as const };
      if (att.kind === "bi-level-routing") {
        a = new BiLevelRoutingAttention({
          name: `${tag}_attn`, heads: stage.heads, grid: att.grid, topK: att.topK,
          ...(att.lceKernel !== undefined ? { lceKernel: att.lceKernel } : {}), ...(att.routing ? { routing: att.routing } : {}),
        }).apply(normed) as tf.SymbolicTensor;
      } else {
        const tokens = tf.layers.reshape({ targetShape: [height * width, d] }).apply(normed) as tf.SymbolicTensor;
        const y = new SelfAttention({ name: `${tag}_attn`, numHeads: stage.heads, keyDim: d / stage.heads, causal: false, seed: seed(100 * si + li + 1) }).apply(tokens) as tf.SymbolicTensor;
        a = tf.layers.reshape({ targetShape: [height, width, d] }).apply(y) as tf.SymbolicTensor;
      }
      x = tf.layers.add({ name: `${tag}_attn_add` }).apply([x, a]) as tf.SymbolicTensor;
      const normed2 = new RMSNorm({ name: `${tag}_ffn_norm`, eps }).apply(x) as tf.SymbolicTensor;
      const f = new FeedForward({ name: `${tag}_ffn`, hiddenUnits: stage.hiddenUnits ?? 4 * d, seed: seed(5000 + 100 * si + li) }).apply(normed2) as tf.SymbolicTensor;
      x = tf.layers.add({ name: `${tag}_ffn_add` }).apply([x, f]) as tf.SymbolicTensor;
    }
  });
  x = new RMSNorm({ name: "final_norm", eps }).apply(x) as tf.SymbolicTensor;
  const pooled = tf.layers.globalAveragePooling2d({ name: "mean_pool" }).apply(x) as tf.SymbolicTensor;
  const logits = tf.layers.dense({ name: "classifier", units: s.numClasses }).apply(pooled) as tf.SymbolicTensor;
  return tf.model({ inputs: images, outputs: logits, name: s.name ?? "attnkit_vision" });
}
