// Chunk mode of the gated delta rule as one custom-gradient op that walks the sequence in cache-sized
// segments, carrying the state between them, as chunked.ts does for linear attention. Why: differentiated as a
// whole, the WY form made every step a pass over [b, h, seq, d]-sized tensors, forward and backward, and on
// wasm those passes got slower per token once the tensors outgrew the cache (fwd+bwd time(16384)/time(2048)
// measured 10.0–10.6 for 8× the tokens). Here the forward pass keeps only each segment's starting state and
// its chunks' (I + A)⁻¹; the backward pass walks the segments in reverse and differentiates each one again
// (the L2 norm, the scale and the WY form of gated-delta-wy.ts) by TF.js autodiff over segment-sized tensors,
// handing the state's gradient on.
import * as tf from "@tensorflow/tfjs";
import { l2Normalize } from "@attnkit/core";
import { knownInverse, unitLowerInverse, wyChunks } from "./gated-delta-wy";
import { takeRows } from "./rows";
import { segmentsOf, type Segment } from "./segments";

// Rows (batch·heads × tokens) per segment: 4096 rows of 64 floats are 1 MiB per tensor. On wasm (4 heads of 64)
// fwd+bwd took ~10% less time with 4096 than with 2048, which chunked.ts uses: each segment here costs the c
// sequential steps of (I + A)⁻¹ besides its share of the work.
const SEGMENT_ROWS = 4096;
// The states inside a segment come from one small product per chunk in turn, so its tape stays short.
const MAX_CHUNKS = 32;

// tf.grads called from a gradient function (here, once per segment) replaces the engine's active tape with
// its own and clears it when done, while the outer tf.grads still has to free its tape's saved tensors
// afterwards; so the outer tape is put back.
function nestedGrads(f: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[]): tf.Tensor[] {
  const state = tf.engine().state;
  const outer = state.activeTape;
  try {
    return tf.grads(f)(xs);
  } finally {
    state.activeTape = outer;
  }
}

export interface GatedDeltaInputs {
  /** [b, h, seq, dk], before the L2 norm and the scale. */
  q: tf.Tensor;
  k: tf.Tensor;
  /** [b, h, seq, dv] */
  v: tf.Tensor;
  /** log α and β, [b, h, seq]. */
  logAlpha: tf.Tensor;
  beta: tf.Tensor;
  /** Initial state [b, h, dk, dv]. */
  s0: tf.Tensor;
}

export interface GatedDeltaChunkOptions {
  /** eps of the L2 norm of q and k, or null for none. */
  normEps: number | null;
  /** Multiplies q (after the norm). */
  scale: number;
  chunkSize: number;
}

/** The output [b, h, seq, dv] and the final state [b, h, dk, dv] in chunks of `chunkSize`. */
export function gatedDeltaChunks(x: GatedDeltaInputs, options: GatedDeltaChunkOptions): { output: tf.Tensor; s: tf.Tensor } {
  const [b, h, seq, dk] = x.q.shape as number[];
  const dv = x.v.shape[3]!;
  const r = b! * h!;
  const segs = segmentsOf(seq!, Math.min(options.chunkSize, seq!), r, SEGMENT_ROWS, MAX_CHUNKS);
  const { normEps, scale, chunkSize } = options;
  // One segment's output [r, 1, length, dv] and final state [r, 1, dk, dv] from its pieces.
  const segment = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, g: tf.Tensor, beta: tf.Tensor, s: tf.Tensor, invert: (a: tf.Tensor) => tf.Tensor) => {
    const qn = normEps === null ? q : l2Normalize(q, { eps: normEps });
    return wyChunks(scale === 1 ? qn : qn.mul(scale), normEps === null ? k : l2Normalize(k, { eps: normEps }), v, g, beta, s, chunkSize, invert);
  };
  // The segment's rows of q, k, v [r, seq, d] as [r, 1, length, d], and of the gates [r, seq, 1] as [r, 1, length].
  const pieces = (all: tf.Tensor[], seg: Segment) =>
    all.map((t, j) => takeRows(t, seg.from, seg.length).reshape(j < 3 ? [r, 1, seg.length, t.shape[2]!] : [r, 1, seg.length]));
  const asRows = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, g: tf.Tensor, beta: tf.Tensor) => [q.reshape([r, seq!, dk!]), k.reshape([r, seq!, dk!]), v.reshape([r, seq!, dv]), g.reshape([r, seq!, 1]), beta.reshape([r, seq!, 1])];
  // The value packs the output rows and the final state's dk rows: [r, seq + dk, dv].
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [q, k, v, g, beta, s0] = args.slice(0, 6) as tf.Tensor[];
    const save = args[6] as tf.GradSaveFunc;
    const all = asRows(q!, k!, v!, g!, beta!);
    let s = s0!.reshape([r, 1, dk!, dv]);
    // Each segment's starting state and its chunks' (I + A)⁻¹, the c sequential steps of the WY form, which
    // the backward pass then need not redo.
    const starts: tf.Tensor[] = [];
    const inverses: tf.Tensor[] = [];
    const outs: tf.Tensor[] = [];
    for (const seg of segs) {
      starts.push(s);
      const [out, next, inv] = tf.tidy(() => {
        const [pq, pk, pv, pg, pb] = pieces(all, seg);
        let t: tf.Tensor | null = null;
        const f = segment(pq!, pk!, pv!, pg!, pb!, s, (a) => (t = unitLowerInverse(a)));
        return [f.output.reshape([r, seg.length, dv]), f.s, t!];
      });
      outs.push(out!);
      inverses.push(inv!);
      s = next!;
    }
    const value = tf.concat([...outs, s.reshape([r, dk!, dv])], 1);
    tf.dispose([...outs, s]);
    save([q!, k!, v!, g!, beta!, ...starts, ...inverses]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [sq, sk, sv, sg, sb] = saved as tf.Tensor[];
          const savedAll = asRows(sq!, sk!, sv!, sg!, sb!);
          let dNext = takeRows(dy, seq!, dk!).reshape([r, 1, dk!, dv]);
          const parts: tf.Tensor[][] = [[], [], [], [], []];
          for (let i = segs.length - 1; i >= 0; i--) {
            const seg = segs[i]!;
            const [dq, dk_, dv_, dg, db, ds] = tf.tidy(() => {
              const dOut = takeRows(dy, seg.from, seg.length).reshape([r, 1, seg.length, dv]);
              const dState = dNext;
              const grads = nestedGrads((pq, pk, pv, pg, pb, ps) => {
                const f = segment(pq!, pk!, pv!, pg!, pb!, ps!, (a) => knownInverse(a, saved[5 + segs.length + i]!));
                return f.output.mul(dOut).sum().add(f.s.mul(dState).sum());
              }, [...pieces(savedAll, seg), saved[5 + i]!]);
              return [...grads.slice(0, 5).map((t) => t.reshape([r, seg.length, -1])), grads[5]!];
            });
            [dq, dk_, dv_, dg, db].forEach((t, j) => parts[j]!.push(t!));
            dNext = ds!;
          }
          const whole = (j: number, like: tf.Tensor) => tf.concat(parts[j]!.reverse(), 1).reshape(like.shape);
          return [whole(0, sq!), whole(1, sk!), whole(2, sv!), whole(3, sg!), whole(4, sb!), dNext.reshape([b!, h!, dk!, dv])];
        }),
    };
  });
  const packed = op(x.q, x.k, x.v, x.logAlpha, x.beta, x.s0);
  const output = takeRows(packed, 0, seq!).reshape([b!, h!, seq!, dv]);
  const s = takeRows(packed, seq!, dk!).reshape([b!, h!, dk!, dv]);
  return { output, s };
}
