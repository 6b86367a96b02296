// Rotary position embedding (RoFormer). 'half' rotates (x[i], x[i + d/2]) pairs (GPT-NeoX, LLaMA);
// 'interleaved' rotates (x[2i], x[2i + 1]) pairs (RoFormer, GPT-J). Frequency of pair i: base^(−2i/d).
import * as tf from "@tensorflow/tfjs";
import { ShapeError } from "../errors";
import { assertKnownOptions, assertNumber, assertOneOf, assertRank, assertTensor, shapeString } from "../validate";

export interface ApplyRotaryOptions {
  /** Position of each of the `seq` rows (default 0..seq−1); a `[seq]` tensor or array. */
  positions?: tf.Tensor | number[];
  /** Default 10000. */
  base?: number;
  /** Default 'half'. */
  layout?: "half" | "interleaved";
}

const NAME = "applyRotary";

/** Rotates `x: [..., seq, dim]` (dim even) by its positions. Differentiable with respect to x. */
export function applyRotary(x: tf.Tensor, options: ApplyRotaryOptions = {}): tf.Tensor {
  assertKnownOptions(NAME, options, ["positions", "base", "layout"]);
  assertRank(NAME, "x", x, [2, 3, 4, 5]);
  const seq = x.shape[x.rank - 2]!;
  const dim = x.shape[x.rank - 1]!;
  if (dim % 2 !== 0) throw new ShapeError(`${NAME}: x must have an even last dimension, got ${shapeString(x.shape)}`);
  const base = options.base ?? 10000;
  assertNumber(NAME, "base", base, { min: 0, minExclusive: true });
  const layout = options.layout ?? "half";
  assertOneOf(NAME, "layout", layout, ["half", "interleaved"] as const);
  const { positions } = options;
  if (positions !== undefined) {
    if (Array.isArray(positions)) {
      if (positions.length !== seq || positions.some((p) => typeof p !== "number" || !Number.isFinite(p))) {
        throw new ShapeError(`${NAME}: positions must hold ${seq} finite numbers (one per row of x), got an array of length ${positions.length}`);
      }
    } else {
      assertTensor(NAME, "positions", positions);
      if (positions.size !== seq) throw new ShapeError(`${NAME}: positions must have ${seq} entries (one per row of x), got shape ${shapeString(positions.shape)}`);
    }
  }
  return tf.tidy(() => {
    const half = dim / 2;
    const pos = positions === undefined ? tf.range(0, seq) : Array.isArray(positions) ? tf.tensor1d(positions) : positions.reshape([seq]).cast("float32");
    const invFreq = tf.tensor1d(Array.from({ length: half }, (_, i) => base ** (-(2 * i) / dim)));
    const angles = tf.outerProduct(pos as tf.Tensor1D, invFreq); // [seq, half]
    const cos = tf.cos(angles);
    const sin = tf.sin(angles);
    if (layout === "half") {
      const [x1, x2] = tf.split(x, 2, -1) as [tf.Tensor, tf.Tensor];
      return tf.concat([x1.mul(cos).sub(x2.mul(sin)), x2.mul(cos).add(x1.mul(sin))], -1);
    }
    const pairs = x.reshape([...x.shape.slice(0, -1), half, 2]);
    const [x1, x2] = tf.unstack(pairs, x.rank) as [tf.Tensor, tf.Tensor];
    const r1 = x1.mul(cos).sub(x2.mul(sin));
    const r2 = x2.mul(cos).add(x1.mul(sin));
    return tf.stack([r1, r2], x.rank).reshape(x.shape);
  });
}
