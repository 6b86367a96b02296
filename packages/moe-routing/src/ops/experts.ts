// The expert MLPs on their queues: one 2-D product per expert (wasm's fast path), with the backward
// pass written out so that it stays on fast 2-D products too and saves the pre-activations.
import * as tf from "@tensorflow/tfjs";
import { activate, activationSlope, batchMatMul, type Activation } from "@attnkit/core";

export interface ExpertList {
  /** Per expert: `[d, f]`, `[f]`, `[f, d]`, `[d]`. */
  w1: tf.Tensor[];
  b1: tf.Tensor[];
  w2: tf.Tensor[];
  b2: tf.Tensor[];
}

const kernels = new Map<string, (...xs: tf.Tensor[]) => tf.Tensor>();

function kernel(activation: Activation, e: number): (...xs: tf.Tensor[]) => tf.Tensor {
  const key = `${activation}/${e}`;
  let k = kernels.get(key);
  if (k) return k;
  k = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const [xs, ...ws] = args.slice(0, -1) as tf.Tensor[];
    const [, n, d] = xs!.shape as [number, number, number];
    const w1 = ws.slice(0, e);
    const b1 = ws.slice(e, 2 * e);
    const w2 = ws.slice(2 * e, 3 * e);
    const b2 = ws.slice(3 * e, 4 * e);
    const f = w1[0]!.shape[1]!;
    const rows = xs!.reshape([e * n, d]);
    const hs: tf.Tensor[] = [];
    const outs: tf.Tensor[] = [];
    for (let i = 0; i < e; i++) {
      const h = batchMatMul(rows.slice([i * n, 0], [n, d]), w1[i]!).add(b1[i]!);
      hs.push(h);
      outs.push(batchMatMul(activate(h, activation), w2[i]!).add(b2[i]!));
    }
    save([rows, ...w1, ...w2, ...hs]);
    return {
      value: tf.concat(outs).reshape([e, n, d]),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const xRows = saved[0]!;
        const sw1 = saved.slice(1, 1 + e);
        const sw2 = saved.slice(1 + e, 1 + 2 * e);
        const sh = saved.slice(1 + 2 * e);
        const dyRows = dy.reshape([e * n, d]);
        const g = { x: [] as tf.Tensor[], w1: [] as tf.Tensor[], b1: [] as tf.Tensor[], w2: [] as tf.Tensor[], b2: [] as tf.Tensor[] };
        for (let i = 0; i < e; i++) {
          const dO = dyRows.slice([i * n, 0], [n, d]);
          const h = sh[i]!;
          g.w2.push(batchMatMul(activate(h, activation), dO, true, false));
          g.b2.push(dO.sum(0));
          const dh = batchMatMul(dO, sw2[i]!, false, true).mul(activationSlope(h, activation));
          g.w1.push(batchMatMul(xRows.slice([i * n, 0], [n, d]), dh, true, false));
          g.b1.push(dh.sum(0));
          g.x.push(batchMatMul(dh, sw1[i]!, false, true));
        }
        void f;
        return [tf.concat(g.x).reshape([e, n, d]), ...g.w1, ...g.b1, ...g.w2, ...g.b2];
      },
    };
  });
  kernels.set(key, k);
  return k;
}

/**
 * Expert MLPs `act(xs_e·w1_e + b1_e)·w2_e + b2_e` for `xs: [E, n, d]` and per-expert weights,
 * differentiable in all of them. Per-expert weight tensors on purpose: slicing an [E, d, f] tensor per
 * call (and padding its gradient back) costs more on wasm than the products.
 */
export function expertMlp(xs: tf.Tensor, w: ExpertList, activation: Activation): tf.Tensor {
  const e = w.w1.length;
  return kernel(activation, e)(xs, ...w.w1, ...w.b1, ...w.w2, ...w.b2);
}
