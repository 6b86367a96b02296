// Batched matrix products on the fast path of each backend.
// Measured on TF.js 4.22 wasm (single thread, SIMD): a 2-D product runs at 18–33 GFLOP/s, the same work as
// a batched product (batch > 1) at 0.6–0.8, and transposeA/transposeB at 0.8–2.5. So on wasm we split the
// batch into 2-D products and transpose explicitly; other backends take TF.js's batched kernel as is.
import * as tf from "@tensorflow/tfjs";
import { ShapeError } from "../errors";
import { assertRank, shapeString } from "../validate";
import { splitLeading } from "./split";

/** True when the current backend is faster with 2-D products and explicit transposes than with batched kernels. */
export function prefersMatrixSlices(): boolean {
  return tf.getBackend() === "wasm";
}

// 2-D product op(a)·op(b) without TF.js's slow transposed kernels on wasm.
function matMul2d(a: tf.Tensor2D, b: tf.Tensor2D, transposeA: boolean, transposeB: boolean): tf.Tensor2D {
  return tf.matMul(transposeA ? tf.transpose(a) : a, transposeB ? tf.transpose(b) : b);
}

const slicedMatMul = (transposeA: boolean, transposeB: boolean) =>
  tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [a, b, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([a, b]);
    const batch = a.shape.slice(0, -2);
    const n = batch.reduce((p, d) => p * d, 1);
    const a3 = a.reshape([n, a.shape[a.rank - 2]!, a.shape[a.rank - 1]!]);
    const bShared = b.rank === 2;
    const b3 = bShared ? null : b.reshape([n, b.shape[b.rank - 2]!, b.shape[b.rank - 1]!]);
    const as = splitLeading(a3) as tf.Tensor2D[];
    const bs = bShared ? null : (splitLeading(b3!) as tf.Tensor2D[]);
    const outs = as.map((ai, i) => matMul2d(ai, bShared ? (b as tf.Tensor2D) : bs![i]!, transposeA, transposeB));
    const out = n === 1 ? outs[0]!.expandDims(0) : tf.stack(outs);
    const [m, p] = out.shape.slice(1) as [number, number];
    return {
      value: out.reshape([...batch, m, p]),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sa, sb0] = saved as [tf.Tensor, tf.Tensor];
        // A shared 2-D b meets a batched a only when a is transposed; broadcast it for dA.
        const sb = bShared && batch.length > 0 ? tf.broadcastTo(sb0, [...batch, ...sb0.shape]) : sb0;
        // C = op(A)·op(B): the four cases of dA and dB, each again a fast product.
        let da: tf.Tensor;
        let db: tf.Tensor;
        if (!transposeA && !transposeB) {
          da = batchMatMul(dy, sb, false, true);
          db = batchMatMul(sa, dy, true, false);
        } else if (!transposeA && transposeB) {
          da = batchMatMul(dy, sb, false, false);
          db = batchMatMul(dy, sa, true, false);
        } else if (transposeA && !transposeB) {
          da = batchMatMul(sb, dy, false, true);
          db = batchMatMul(sa, dy, false, false);
        } else {
          da = batchMatMul(sb, dy, true, true);
          db = batchMatMul(dy, sa, true, true);
        }
        if (bShared) db = db.reshape([n, ...sb0.shape]).sum(0);
        return [da, db];
      },
    };
  });

const slicedKernels = [slicedMatMul(false, false), slicedMatMul(false, true), slicedMatMul(true, false), slicedMatMul(true, true)];

// Below this many FLOPs per matrix, per-call overhead outweighs the 2-D kernel's speed, and TF.js's
// batched kernel wins. Measured on wasm: 256 products of 64×64·64×64 (0.5 MFLOP each) 1.9× faster as
// 2-D, 32×64·64×32 (0.13 MFLOP) a tie, 16×64·64×16 2× faster batched.
const SMALL_MATRIX_FLOPS = 1 << 17;

function isSmallBatch(a: tf.Tensor, b: tf.Tensor, transposeA: boolean, transposeB: boolean): boolean {
  if (a.rank === 2) return false;
  const m = a.shape[a.rank - (transposeA ? 1 : 2)]!;
  const k = a.shape[a.rank - (transposeA ? 2 : 1)]!;
  const n = b.shape[b.rank - (transposeB ? 2 : 1)]!;
  return 2 * m * k * n < SMALL_MATRIX_FLOPS;
}

/**
 * op(a)·op(b) over leading batch dimensions, on the fastest formulation for the current backend, with
 * gradients on the same path. `a: [..., m, k]`; `b: [..., k, n]` with the same batch dimensions, or a
 * 2-D `[k, n]` shared by every batch entry.
 */
export function batchMatMul(a: tf.Tensor, b: tf.Tensor, transposeA = false, transposeB = false): tf.Tensor {
  const fn = "batchMatMul";
  assertRank(fn, "a", a, [2, 3, 4, 5, 6]);
  assertRank(fn, "b", b, [2, 3, 4, 5, 6]);
  const ka = a.shape[a.rank - (transposeA ? 2 : 1)];
  const kb = b.shape[b.rank - (transposeB ? 1 : 2)];
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  if (ka !== kb || (b.rank > 2 && (batchA.length !== batchB.length || batchA.some((d, i) => d !== batchB[i])))) {
    throw new ShapeError(
      `${fn}: a ${shapeString(a.shape)}${transposeA ? "ᵀ" : ""} and b ${shapeString(b.shape)}${transposeB ? "ᵀ" : ""} do not fit: inner sizes ${ka} and ${kb}, batch ${shapeString(batchA)} and ${shapeString(batchB)}`,
    );
  }
  if (b.rank === 2 && !transposeA && a.rank > 2) {
    // Shared weights: fold the batch into rows, one 2-D product on every backend.
    const rows = a.reshape([-1, a.shape[a.rank - 1]!]);
    const out = batchMatMul(rows, b, false, transposeB);
    return out.reshape([...batchA, a.shape[a.rank - 2]!, out.shape[1]!]);
  }
  if (!prefersMatrixSlices() || isSmallBatch(a, b, transposeA, transposeB)) {
    const bb = b.rank === 2 && a.rank > 2 ? tf.broadcastTo(b, [...batchA, ...b.shape]) : b;
    return tf.matMul(a, bb, transposeA, transposeB);
  }
  const index = (transposeA ? 2 : 0) + (transposeB ? 1 : 0);
  return slicedKernels[index]!(a, b);
}
