// BiFormer's local context enhancement (LCE): a depth-wise convolution of V laid out as the image,
// zero padding kernel//2, channel c = head·dimV + j, added to the attention output by the caller.
// Written as a sum of shifted slices rather than tf.depthwiseConv2d, because the wasm backend has no
// depth-wise backprop kernels; every op used here has a gradient on cpu, wasm and webgpu.
import * as tf from "@tensorflow/tfjs";
import { OptionError, ShapeError, assertInteger, assertKnownOptions, assertRank, assertShape, assertTensor, assertFloat, shapeString } from "@attnkit/core";

export interface LocalContextEnhancementOptions {
  height: number;
  width: number;
  /** Depth-wise kernel `[channels, kh, kw]` with odd kh, kw (torch Conv2d weight[:, 0]). */
  kernel: tf.Tensor;
  /** Per-channel bias `[channels]`. */
  bias?: tf.Tensor;
}

const NAME = "localContextEnhancement";
const KEYS = ["height", "width", "kernel", "bias"];

/** Depth-wise cross-correlation of an image `[b, H, W, C]` with `kernel: [C, kh, kw]`, zero padding. */
export function depthwiseSame(image: tf.Tensor4D, kernel: tf.Tensor3D): tf.Tensor4D {
  const [, height, width] = image.shape;
  const [, kh, kw] = kernel.shape;
  const ph = (kh - 1) / 2;
  const pw = (kw - 1) / 2;
  const padded = tf.pad(image, [[0, 0], [ph, ph], [pw, pw], [0, 0]]);
  const taps = kernel.transpose([1, 2, 0]); // [kh, kw, C]
  let out: tf.Tensor | null = null;
  for (let dy = 0; dy < kh; dy++) {
    for (let dx = 0; dx < kw; dx++) {
      const w = taps.slice([dy, dx, 0], [1, 1, -1]).reshape([1, 1, 1, -1]);
      const term = padded.slice([0, dy, dx, 0], [-1, height, width, -1]).mul(w);
      out = out === null ? term : out.add(term);
    }
  }
  return out as tf.Tensor4D;
}

export function localContextEnhancement(v: tf.Tensor, options: LocalContextEnhancementOptions): tf.Tensor4D {
  if (options === undefined || options === null) throw new OptionError(`${NAME}: options with height, width and kernel are required`);
  assertKnownOptions(NAME, options, KEYS);
  assertRank(NAME, "v", v, 4);
  assertFloat(NAME, "v", v);
  const [b, h, s, dv] = v.shape as [number, number, number, number];
  assertInteger(NAME, "height", options.height, { min: 1 });
  assertInteger(NAME, "width", options.width, { min: 1 });
  const { height, width, kernel, bias } = options;
  if (s !== height * width) throw new ShapeError(`${NAME}: v must hold height·width = ${height * width} tokens, got ${shapeString(v.shape)}`);
  assertRank(NAME, "kernel", kernel, 3);
  assertFloat(NAME, "kernel", kernel);
  const [c, kh, kw] = kernel.shape as [number, number, number];
  if (c !== h * dv) throw new ShapeError(`${NAME}: kernel must have heads·dimV = ${h * dv} channels, got ${shapeString(kernel.shape)}`);
  if (kh % 2 === 0 || kw % 2 === 0) throw new OptionError(`${NAME}: kernel sizes must be odd (padding kernel//2 keeps the image size), got ${shapeString(kernel.shape)}`);
  if (bias !== undefined) {
    assertTensor(NAME, "bias", bias);
    assertShape(NAME, "bias", bias, [c]);
  }
  return tf.tidy(() => {
    const image = v.transpose([0, 2, 1, 3]).reshape([b, height, width, c]) as tf.Tensor4D;
    let out: tf.Tensor = depthwiseSame(image, kernel as tf.Tensor3D);
    if (bias !== undefined) out = out.add(bias);
    return out.reshape([b, s, h, dv]).transpose([0, 2, 1, 3]) as tf.Tensor4D;
  });
}
