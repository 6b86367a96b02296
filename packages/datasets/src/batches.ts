// Seeded mini-batches over columns, with a position that can be saved and resumed exactly: the order of
// epoch e depends only on (seed, e), so {epoch, batch} is the whole state.
import * as tf from "@tensorflow/tfjs";
import { assertBoolean, assertInteger, assertKnownOptions, OptionError, ShapeError } from "@attnkit/core";
import { column, type Column, type ColumnLike } from "./columns";
import { checkSeed, mulberry32, Rng } from "./rng";

export interface BatchPosition {
  /** Epoch of the next batch (0-based). */
  epoch: number;
  /** Index of the next batch within that epoch. */
  batch: number;
}

export interface BatchOptions {
  batchSize: number;
  /** Shuffle the examples each epoch. Default true. */
  shuffle?: boolean;
  /** Seed of the shuffles. Default 0. */
  seed?: number;
  /** Passes over the data; `Infinity` never ends. Default 1. */
  epochs?: number;
  /** Drop an epoch's last batch when it is smaller than `batchSize`. Default false. */
  dropRemainder?: boolean;
  /** Start here (a saved `iterator.position`) instead of at the beginning. */
  position?: BatchPosition;
}

/** One tensor per column, `[batch, ...shape]`; the caller owns (and disposes) them. */
export type Batch = Record<string, tf.Tensor>;

/** Named columns: any object whose values are columns (so `mqar(...)` output passes as is). */
export type Columns<C = Record<string, ColumnLike>> = { [K in keyof C]: ColumnLike };

const FN = "batches";
const KNOWN = ["batchSize", "shuffle", "seed", "epochs", "dropRemainder", "position"];

/** The example order of one epoch: a permutation seeded by (seed, epoch), or the identity. */
export function epochOrder(size: number, seed: number, epoch: number, shuffle = true): number[] {
  if (!shuffle) return Array.from({ length: size }, (_, i) => i);
  // Mix the epoch into the seed through one Mulberry32 step so nearby (seed, epoch) pairs decorrelate.
  const epochSeed = mulberry32((seed + Math.imul(epoch + 1, 0x9e3779b1)) | 0).uint32();
  return new Rng(epochSeed).permutation(size);
}

export class BatchIterator implements IterableIterator<Batch> {
  /** Examples per epoch. */
  readonly size: number;
  readonly batchesPerEpoch: number;
  private readonly columns: [string, Column][];
  private readonly batchSize: number;
  private readonly shuffle: boolean;
  private readonly seed: number;
  private readonly epochs: number;
  private readonly dropRemainder: boolean;
  private epoch = 0;
  private batch = 0;
  private order: number[] | null = null;
  private orderEpoch = -1;

  constructor(columns: Columns<object>, options: BatchOptions) {
    if (columns === null || typeof columns !== "object" || Array.isArray(columns)) {
      throw new OptionError(`${FN}: columns must be an object of named columns, got ${String(columns)}`);
    }
    if (options === null || typeof options !== "object") throw new OptionError(`${FN}: options must be an object, got ${String(options)}`);
    assertKnownOptions(FN, options, KNOWN);
    const { batchSize, shuffle = true, seed = 0, epochs = 1, dropRemainder = false } = options;
    assertInteger(FN, "batchSize", batchSize, { min: 1 });
    assertBoolean(FN, "shuffle", shuffle);
    checkSeed(FN, "seed", seed);
    if (epochs !== Infinity) assertInteger(FN, "epochs", epochs, { min: 0 });
    assertBoolean(FN, "dropRemainder", dropRemainder);
    this.columns = Object.entries(columns as Record<string, ColumnLike>).map(([name, data]) => [name, column(data, {}, FN, `columns.${name}`)]);
    if (this.columns.length === 0) throw new OptionError(`${FN}: columns must name at least one column`);
    const [first, firstColumn] = this.columns[0]!;
    for (const [name, c] of this.columns) {
      if (c.size !== firstColumn.size) throw new ShapeError(`${FN}: every column must have the same number of examples: ${first} has ${firstColumn.size}, ${name} has ${c.size}`);
    }
    this.size = firstColumn.size;
    this.batchSize = batchSize;
    this.shuffle = shuffle;
    this.seed = seed;
    this.epochs = epochs;
    this.dropRemainder = dropRemainder;
    this.batchesPerEpoch = dropRemainder ? Math.floor(this.size / batchSize) : Math.ceil(this.size / batchSize);
    if (options.position !== undefined) this.seek(options.position);
  }

  /** Where the next batch comes from; save it with a checkpoint and pass it back as `position`. */
  get position(): BatchPosition {
    return { epoch: this.epoch, batch: this.batch };
  }

  /** Moves to a saved position. */
  seek(position: BatchPosition): void {
    const fn = FN;
    if (position === null || typeof position !== "object") throw new OptionError(`${fn}: position must be { epoch, batch }, got ${String(position)}`);
    assertKnownOptions(`${fn} position`, position, ["epoch", "batch"]);
    assertInteger(fn, "position.epoch", position.epoch, { min: 0 });
    assertInteger(fn, "position.batch", position.batch, { min: 0, max: Math.max(0, this.batchesPerEpoch - 1) });
    this.epoch = position.epoch;
    this.batch = position.batch;
  }

  /** True when no batches are left. */
  get done(): boolean {
    return this.batchesPerEpoch === 0 || this.epoch >= this.epochs;
  }

  /** Example indices of the next batch without making tensors (and advances), or null at the end. */
  nextIndices(): number[] | null {
    if (this.done) return null;
    if (this.orderEpoch !== this.epoch) {
      this.order = epochOrder(this.size, this.seed, this.epoch, this.shuffle);
      this.orderEpoch = this.epoch;
    }
    const start = this.batch * this.batchSize;
    const indices = this.order!.slice(start, Math.min(start + this.batchSize, this.size));
    this.batch++;
    if (this.batch >= this.batchesPerEpoch) {
      this.batch = 0;
      this.epoch++;
    }
    return indices;
  }

  next(): IteratorResult<Batch> {
    const indices = this.nextIndices();
    if (indices === null) return { done: true, value: undefined };
    return { done: false, value: gather(this.columns, indices) };
  }

  [Symbol.iterator](): BatchIterator {
    return this;
  }
}

/** Gathers examples of every column into `[indices.length, ...shape]` tensors. */
export function gather(columns: readonly [string, Column][], indices: readonly number[]): Batch {
  const out: Batch = {};
  for (const [name, c] of columns) {
    const per = c.shape.reduce((a, b) => a * b, 1);
    const data = c.dtype === "int32" ? new Int32Array(indices.length * per) : new Float32Array(indices.length * per);
    indices.forEach((i, row) => c.write(i, data, row * per));
    out[name] = tf.tensor(data, [indices.length, ...c.shape], c.dtype);
  }
  return out;
}

/** Seeded, resumable mini-batches: `for (const batch of batches({ inputs, labels }, { batchSize: 32 }))`. */
export function batches<C extends Columns<C>>(columns: C, options: BatchOptions): BatchIterator {
  return new BatchIterator(columns, options);
}

export interface TfDatasetOptions extends BatchOptions {
  /** Column(s) that form `xs` (for `model.fitDataset`); with `ys`, elements are `{ xs, ys }`. */
  xs?: string | string[];
  ys?: string | string[];
  /**
   * Each new iteration of the dataset (each `fitDataset` epoch) continues with the next `epochs` epochs
   * of the seeded sequence, so shuffles differ between passes, as tf.data's own shuffle does. false:
   * every iteration repeats the first. Default true.
   */
  reshuffleEachIteration?: boolean;
}

/**
 * The same batches as a `tf.data.Dataset`. Its first iteration equals `batches(columns, options)`
 * (from `position` when given); iteration k (with `reshuffleEachIteration`) yields epochs
 * [k·epochs, (k+1)·epochs). Without `xs`/`ys` the elements are the named batches.
 */
export function toTfDataset<C extends Columns<C>>(columns: C, options: TfDatasetOptions): tf.data.Dataset<tf.TensorContainer> {
  const fn = "toTfDataset";
  if (options === null || typeof options !== "object") throw new OptionError(`${fn}: options must be an object, got ${String(options)}`);
  const { xs, ys, reshuffleEachIteration = true, ...batchOptions } = options;
  assertBoolean(fn, "reshuffleEachIteration", reshuffleEachIteration);
  if ((xs === undefined) !== (ys === undefined)) throw new OptionError(`${fn}: xs and ys must be given together, got only ${xs === undefined ? "ys" : "xs"}`);
  const pick = (arg: string, names: string | string[]): string[] => {
    const list = typeof names === "string" ? [names] : names;
    if (!Array.isArray(list) || list.length === 0) throw new OptionError(`${fn}: ${arg} must be a column name or a non-empty list of them`);
    for (const n of list) if (typeof n !== "string" || !(n in columns)) throw new OptionError(`${fn}: ${arg} names the column ${JSON.stringify(n)}, which is not one of ${Object.keys(columns).map((k) => `'${k}'`).join(", ")}`);
    return list;
  };
  const xNames = xs === undefined ? null : pick("xs", xs);
  const yNames = ys === undefined ? null : pick("ys", ys);
  // Validate now, so a bad option throws here and not at the first training step.
  new BatchIterator(columns, batchOptions);
  const epochs = batchOptions.epochs ?? 1;
  let pass = 0;
  return tf.data.generator(() => {
    // With endless epochs the first iteration never ends, so there is no later one to continue.
    const k = reshuffleEachIteration && epochs !== Infinity ? pass++ : 0;
    const passOptions = k === 0 ? batchOptions : { ...batchOptions, position: { epoch: k * epochs, batch: 0 }, epochs: (k + 1) * epochs };
    const it = new BatchIterator(columns, passOptions);
    if (xNames === null || yNames === null) return it;
    // A single name given as a string yields the tensor itself; a list yields a named map.
    const group = (b: Batch, names: string[], single: boolean): tf.Tensor | Batch => (single ? b[names[0]!]! : Object.fromEntries(names.map((n) => [n, b[n]!])));
    const used = new Set([...xNames, ...yNames]);
    return {
      next: (): IteratorResult<tf.TensorContainer> => {
        const r = it.next();
        if (r.done) return r;
        tf.dispose(Object.entries(r.value).filter(([n]) => !used.has(n)).map(([, t]) => t));
        return { done: false, value: { xs: group(r.value, xNames, typeof xs === "string"), ys: group(r.value, yNames, typeof ys === "string") } };
      },
    };
  });
}
