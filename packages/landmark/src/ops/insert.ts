// Landmark insertion: a landmark token closes every block of `blockSize` regular tokens.
import { ShapeError, assertBoolean, assertInteger, assertKnownOptions } from "@attnkit/core";

export interface InsertLandmarksOptions {
  /** Regular tokens per block (the paper's and the official code's `mem_freq`, default there 50). */
  blockSize: number;
  /** Token id of the landmark. */
  landmarkId: number;
  /**
   * Also close the last block when it is complete (default true: the inference convention of
   * `mem_cache.py` / `llama_mem.py`); false reproduces `llama/train.py`, which never ends on a landmark.
   */
  trailing?: boolean;
}

export interface InsertLandmarksResult {
  tokenIds: number[][];
  isLandmark: boolean[][];
  /** Block of each position; a landmark belongs to the block it closes. */
  blockIds: number[];
  /** Plain positions 0..T−1: landmarks occupy a position (training convention). */
  positionIds: number[];
}

const NAME = "insertLandmarks";

/** Number of positions after inserting landmarks into `length` regular tokens. */
export function landmarkedLength(length: number, blockSize: number, trailing = true): number {
  const complete = Math.floor(length / blockSize);
  const closed = trailing || length % blockSize !== 0 ? complete : Math.max(0, complete - 1);
  return length + closed;
}

/** Inserts `landmarkId` after every `blockSize` tokens of each row (rows must have equal length). */
export function insertLandmarks(tokenIds: number[][], options: InsertLandmarksOptions): InsertLandmarksResult {
  assertKnownOptions(NAME, options, ["blockSize", "landmarkId", "trailing"]);
  if (!options || typeof options !== "object") throw new ShapeError(`${NAME}: options must be an object with blockSize and landmarkId, got ${String(options)}`);
  assertInteger(NAME, "blockSize", options.blockSize, { min: 1 });
  assertInteger(NAME, "landmarkId", options.landmarkId);
  const trailing = options.trailing ?? true;
  assertBoolean(NAME, "trailing", trailing);
  if (!Array.isArray(tokenIds) || tokenIds.some((row) => !Array.isArray(row))) {
    throw new ShapeError(`${NAME}: tokenIds must be an array of rows (number[][]), got ${Array.isArray(tokenIds) ? "an array with a non-array row" : String(tokenIds)}`);
  }
  const length = tokenIds[0]?.length ?? 0;
  tokenIds.forEach((row, r) => {
    if (row.length !== length) throw new ShapeError(`${NAME}: tokenIds rows must have equal length, got row 0 of length ${length} and row ${r} of length ${row.length}`);
    row.forEach((id, i) => {
      if (!Number.isInteger(id)) throw new ShapeError(`${NAME}: tokenIds must hold integers, got ${String(id)} at [${r}, ${i}]`);
    });
  });
  const { blockSize, landmarkId } = options;
  const total = landmarkedLength(length, blockSize, trailing);
  const rows: number[][] = tokenIds.map(() => []);
  const flags: boolean[] = [];
  const blockIds: number[] = [];
  for (let t = 0; t < length; t++) {
    rows.forEach((row, r) => row.push(tokenIds[r]![t]!));
    flags.push(false);
    blockIds.push(Math.floor(t / blockSize));
    if ((t + 1) % blockSize === 0 && flags.length < total) {
      rows.forEach((row) => row.push(landmarkId));
      flags.push(true);
      blockIds.push(Math.floor(t / blockSize));
    }
  }
  return {
    tokenIds: rows,
    isLandmark: rows.map(() => [...flags]),
    blockIds,
    positionIds: blockIds.map((_, i) => i),
  };
}
