// bias / τ for a tensor τ, with gradients that stay finite where the bias is −∞ (a masked entry).
// Plain autodiff gives dτ = −Σ dy·bias/τ², and at a masked entry dy = 0 while bias = −∞: 0·∞ = NaN.
import * as tf from "@tensorflow/tfjs";

/** Sums `x` over the axes where `shape` has size 1 (undoing a broadcast to x's shape). */
function sumTo(x: tf.Tensor, shape: readonly number[]): tf.Tensor {
  const axes = shape.flatMap((d, i) => (d === 1 && x.shape[i] !== 1 ? [i] : []));
  return axes.length ? x.sum(axes, true) : x;
}

/** `bias / tau` for rank-4 `bias` and `tau` that broadcast against each other. */
export function divideBias(bias: tf.Tensor4D, tau: tf.Tensor4D): tf.Tensor4D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [b, t, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([b, t]);
    return {
      value: b.div(t),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sb, st] = saved as [tf.Tensor, tf.Tensor];
        const finite = tf.where(tf.isFinite(sb), sb, tf.zerosLike(sb)); // a masked entry does not move with τ
        return [sumTo(dy.div(st), sb.shape), sumTo(dy.mul(finite).div(st.square()).neg(), st.shape)];
      },
    };
  });
  return op(bias, tau) as tf.Tensor4D;
}
