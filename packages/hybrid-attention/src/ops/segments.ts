// How the segmented chunk ops (chunked.ts, gated-delta-segments.ts) cut a sequence: whole chunks in segments
// of at most `segmentRows` rows (batch·heads × tokens) and `maxChunks` chunks, then the shorter last chunk
// (if any) on its own, so that no segment needs padding and no padded token can decay the final state.

export interface Segment {
  /** First token. */
  from: number;
  /** Chunks in the segment, each of `size` tokens; `length` = chunks · size. */
  chunks: number;
  size: number;
  length: number;
}

export function segmentsOf(seq: number, c: number, rows: number, segmentRows: number, maxChunks: number): Segment[] {
  const full = Math.floor(seq / c);
  const per = Math.max(1, Math.min(maxChunks, Math.floor(segmentRows / (rows * c))));
  const out: Segment[] = [];
  for (let i = 0; i < full; i += per) {
    const chunks = Math.min(per, full - i);
    out.push({ from: i * c, chunks, size: c, length: chunks * c });
  }
  if (seq > full * c) out.push({ from: full * c, chunks: 1, size: seq - full * c, length: seq - full * c });
  return out;
}
