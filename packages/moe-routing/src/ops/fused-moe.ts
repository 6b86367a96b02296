// Dispatch → experts → combine as one differentiable op with a hand-written backward.
//
// Why fused: on wasm, TF.js's row slices and gathers copy element by element (a [320, 256] row slice
// costs about as much as a 2-D product of the same size), and autodiff of the unfused version slices
// every expert's rows out of one [E·C, d] tensor, then pads each gradient back. Here each expert
// gathers its own rows straight from x, the backward pass is again gathers (a dispatch is a bijection
// between kept assignments and expert slots, so every scatter-add has an exact gather form: wasm has no
// UnsortedSegmentSum kernel in TF.js 4.22), and every product is a fast 2-D one (core's batchMatMul).
import * as tf from "@tensorflow/tfjs";
import { activate, activationSlope, batchMatMul, type Activation } from "@attnkit/core";
import type { ExpertList } from "./experts";

export interface FusedPlan {
  /** int32 `[E, C]`: token in each expert slot (any token for empty slots: their output is never read). */
  slotToken: tf.Tensor;
  /** int32 `[N, k]`: row of each assignment in the `[E·C + 1]` expert outputs (E·C = zero row: dropped or empty). */
  outputRow: tf.Tensor;
  /** int32 `[E·C]`: assignment (token·k + slot) served by each expert slot; N·k for empty slots. */
  slotAssignment: tf.Tensor;
}

// Row gather as GatherNd with [M, 1] indices: on wasm it copies whole rows and ran about 3× faster than
// GatherV2 in our measurements. (GatherNd has no TF.js gradient; none is needed inside this op.)
const takeRows = (x: tf.Tensor, index: tf.Tensor) => tf.gatherND(x, index.reshape([-1, 1]));

const kernels = new Map<string, (...xs: tf.Tensor[]) => tf.Tensor>();

function kernel(activation: Activation, e: number): (...xs: tf.Tensor[]) => tf.Tensor {
  const key = `${activation}/${e}`;
  let k = kernels.get(key);
  if (k) return k;
  k = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const [x, weights, slotToken, outputRow, slotAssignment, ...ws] = args.slice(0, -1) as tf.Tensor[];
    const [n, d] = x!.shape as [number, number];
    const topK = weights!.shape[1]!;
    const c = slotToken!.shape[1]!;
    const w1 = ws.slice(0, e);
    const b1 = ws.slice(e, 2 * e);
    const w2 = ws.slice(2 * e, 3 * e);
    const b2 = ws.slice(3 * e, 4 * e);
    const tokensOf = (i: number) => slotToken!.slice([i, 0], [1, c]).reshape([c]);
    const xs: tf.Tensor[] = [];
    const hs: tf.Tensor[] = [];
    const outs: tf.Tensor[] = [];
    for (let i = 0; i < e; i++) {
      const xi = takeRows(x!, tokensOf(i));
      const h = batchMatMul(xi, w1[i]!).add(b1[i]!);
      xs.push(xi);
      hs.push(h);
      outs.push(batchMatMul(activate(h, activation), w2[i]!).add(b2[i]!));
    }
    const rows = tf.concat([...outs, tf.zeros([1, d])]);
    const picked = takeRows(rows, outputRow!).reshape([n, topK, d]);
    save([weights!, picked, slotToken!, outputRow!, slotAssignment!, ...xs, ...hs, ...w1, ...w2]);
    return {
      value: picked.mul(weights!.expandDims(2)).sum(1),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sw, sPicked, sSlot, sRow, sAssign] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        const sx = saved.slice(5, 5 + e);
        const sh = saved.slice(5 + e, 5 + 2 * e);
        const sw1 = saved.slice(5 + 2 * e, 5 + 3 * e);
        const sw2 = saved.slice(5 + 3 * e, 5 + 4 * e);
        const dWeights = sPicked.mul(dy.expandDims(1)).sum(2); // [n, k]
        // d(picked) for every assignment, and a zero row that empty slots read.
        const dPicked = tf.concat([sw.expandDims(2).mul(dy.expandDims(1)).reshape([n * topK, d]), tf.zeros([1, d])]);
        const g = { x: [] as tf.Tensor[], w1: [] as tf.Tensor[], b1: [] as tf.Tensor[], w2: [] as tf.Tensor[], b2: [] as tf.Tensor[] };
        for (let i = 0; i < e; i++) {
          const dO = takeRows(dPicked, sAssign.slice([i * c], [c]));
          const h = sh[i]!;
          g.w2.push(batchMatMul(activate(h, activation), dO, true, false));
          g.b2.push(dO.sum(0));
          const dh = batchMatMul(dO, sw2[i]!, false, true).mul(activationSlope(h, activation));
          g.w1.push(batchMatMul(sx[i]!, dh, true, false));
          g.b1.push(dh.sum(0));
          g.x.push(batchMatMul(dh, sw1[i]!, false, true));
        }
        // Each token reads back the slots of its kept assignments (dropped ones read the zero row).
        const dSlots = tf.concat([...g.x, tf.zeros([1, d])]);
        const dx = takeRows(dSlots, sRow).reshape([n, topK, d]).sum(1);
        const none = (t: tf.Tensor) => tf.zeros(t.shape, "float32");
        return [dx, dWeights, none(sSlot), none(sRow), none(sAssign), ...g.w1, ...g.b1, ...g.w2, ...g.b2];
      },
    };
  });
  kernels.set(key, k);
  return k;
}

/**
 * `y_t = Σ_j weights[t, j] · expert_{indices[t, j]}(x_t)` over the assignments the plan keeps.
 * `x: [N, d]`, `weights: [N, k]`; differentiable in x, weights and every expert weight.
 */
export function fusedMoe(x: tf.Tensor, weights: tf.Tensor, plan: FusedPlan, experts: ExpertList, activation: Activation): tf.Tensor {
  const e = experts.w1.length;
  return kernel(activation, e)(x, weights, plan.slotToken, plan.outputRow, plan.slotAssignment, ...experts.w1, ...experts.b1, ...experts.w2, ...experts.b2);
}
