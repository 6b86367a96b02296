// Columns: per-example arrays of a fixed shape that a batch gathers into one tensor. Host memory only;
// tensors are made per batch, so a large corpus never sits on the device whole.
import { assertInteger, assertKnownOptions, assertOneOf, OptionError, ShapeError } from "@attnkit/core";

export type ColumnDtype = "int32" | "float32";

export interface Column {
  /** Number of examples. */
  readonly size: number;
  /** Shape of one example (`[]` for a scalar such as a class label). */
  readonly shape: readonly number[];
  readonly dtype: ColumnDtype;
  /** Writes example `i` into `out` from `offset` (its `shape` product values). */
  write(i: number, out: Int32Array | Float32Array, offset: number): void;
}

export type NumericArray = Int8Array | Uint8Array | Uint8ClampedArray | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array;

/** A column, a rectangular `number[][]`, or a flat array of per-example scalars. */
export type ColumnLike = Column | readonly (readonly number[])[] | readonly number[] | NumericArray;

const isNumericArray = (x: unknown): x is NumericArray => ArrayBuffer.isView(x) && !(x instanceof DataView) && !(x instanceof BigInt64Array) && !(x instanceof BigUint64Array);

export interface ColumnOptions {
  /** Shape of one example; a flat array is cut into examples of this many values. Default: the row length (`number[][]`) or `[]`. */
  shape?: readonly number[];
  /** Default: float32 for a Float32Array or Float64Array, int32 for integer data, else float32. */
  dtype?: ColumnDtype;
}

const product = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function isColumn(x: unknown): x is Column {
  return typeof x === "object" && x !== null && typeof (x as Column).write === "function" && typeof (x as Column).size === "number";
}

function allIntegers(values: ArrayLike<number>): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isInteger(values[i])) return false;
  return true;
}

/** Wraps arrays as a `Column`; checks that rows are rectangular. */
export function column(data: ColumnLike, options: ColumnOptions = {}, fn = "column", arg = "data"): Column {
  if (isColumn(data)) return data;
  assertKnownOptions(fn, options, ["shape", "dtype"]);
  if (options.dtype !== undefined) assertOneOf(fn, `${arg} dtype`, options.dtype, ["int32", "float32"]);
  if (options.shape !== undefined) {
    if (!Array.isArray(options.shape)) throw new OptionError(`${fn}: ${arg} shape must be an array of sizes, got ${String(options.shape)}`);
    options.shape.forEach((d, i) => assertInteger(fn, `${arg} shape[${i}]`, d, { min: 1 }));
  }
  const isTyped = isNumericArray(data);
  if (!isTyped && !Array.isArray(data)) throw new OptionError(`${fn}: ${arg} must be an array, a typed array or a Column, got ${typeof data}`);

  if (!isTyped && data.length > 0 && Array.isArray(data[0])) {
    const rows = data as readonly (readonly number[])[];
    const width = rows[0]!.length;
    rows.forEach((r, i) => {
      if (!Array.isArray(r) || r.length !== width) {
        throw new ShapeError(`${fn}: ${arg} must be rectangular: row 0 has ${width} values, row ${i} has ${Array.isArray(r) ? r.length : "none"}`);
      }
    });
    const shape = options.shape ?? [width];
    if (product(shape) !== width) throw new ShapeError(`${fn}: ${arg} shape [${shape.join(", ")}] must hold ${width} values per row`);
    const dtype = options.dtype ?? (rows.every((r) => allIntegers(r)) ? "int32" : "float32");
    return { size: rows.length, shape, dtype, write: (i, out, offset) => out.set(rows[i]!, offset) };
  }

  const flat = data as ArrayLike<number>;
  const shape = options.shape ?? [];
  const per = product(shape);
  if (flat.length % per !== 0) throw new ShapeError(`${fn}: ${arg} has ${flat.length} values, not a multiple of the example shape [${shape.join(", ")}]`);
  const floatArray = data instanceof Float32Array || data instanceof Float64Array;
  const dtype = options.dtype ?? (!floatArray && allIntegers(flat) ? "int32" : "float32");
  const view = isNumericArray(flat) ? flat : null;
  return {
    size: flat.length / per,
    shape,
    dtype,
    write: (i, out, offset) => {
      if (view) out.set(view.subarray(i * per, (i + 1) * per), offset);
      else for (let j = 0; j < per; j++) out[offset + j] = flat[i * per + j]!;
    },
  };
}

export interface TextWindowOptions {
  /** Tokens per example. */
  seqLen: number;
  /** Tokens between the starts of consecutive windows. Default `seqLen` (no overlap). */
  stride?: number;
}

/**
 * Next-token windows over a token stream, read lazily: example w has `inputs = tokens[s, s+seqLen)` and
 * `labels = tokens[s+1, s+seqLen+1)` with s = w·stride. Build one per split so windows never cross it.
 */
export function textWindows(tokens: ArrayLike<number>, options: TextWindowOptions): { inputs: Column; labels: Column } {
  const fn = "textWindows";
  assertKnownOptions(fn, options, ["seqLen", "stride"]);
  if (tokens === null || typeof tokens !== "object" || typeof tokens.length !== "number") {
    throw new OptionError(`${fn}: tokens must be an array of token ids, got ${String(tokens)}`);
  }
  const { seqLen, stride = seqLen } = options;
  assertInteger(fn, "seqLen", seqLen, { min: 1 });
  assertInteger(fn, "stride", stride, { min: 1 });
  const size = tokens.length > seqLen ? Math.floor((tokens.length - seqLen - 1) / stride) + 1 : 0;
  const view = ArrayBuffer.isView(tokens) ? (tokens as unknown as Int32Array) : null;
  const at = (shift: number): Column => ({
    size,
    shape: [seqLen],
    dtype: "int32",
    write: (w, out, offset) => {
      const s = w * stride + shift;
      if (view) out.set(view.subarray(s, s + seqLen), offset);
      else for (let j = 0; j < seqLen; j++) out[offset + j] = tokens[s + j]!;
    },
  });
  return { inputs: at(0), labels: at(1) };
}

/** Right- (or left-) pads ragged rows to one length so they form a column. */
export function padSequences(rows: readonly (readonly number[])[], options: { length?: number; value?: number; side?: "right" | "left" } = {}): number[][] {
  const fn = "padSequences";
  assertKnownOptions(fn, options, ["length", "value", "side"]);
  if (!Array.isArray(rows) || rows.some((r) => !Array.isArray(r))) throw new OptionError(`${fn}: rows must be an array of arrays`);
  const longest = rows.reduce((m, r) => Math.max(m, r.length), 0);
  const { length = longest, value = 0, side = "right" } = options;
  assertInteger(fn, "length", length, { min: longest });
  if (typeof value !== "number" || Number.isNaN(value)) throw new OptionError(`${fn}: value must be a number, got ${String(value)}`);
  assertOneOf(fn, "side", side, ["right", "left"]);
  return rows.map((r) => {
    const pad = new Array<number>(length - r.length).fill(value);
    return side === "right" ? [...r, ...pad] : [...pad, ...r];
  });
}
