// Chunk mode of the causal engine (Lightning Attention-2) as one custom-gradient op. Per chunk g of c tokens,
// with S_g the state at its start (key-first [dk, dv]) and λ one decay per head (1 for none):
//   o_g = (Q_g K_gᵀ ⊙ D) V_g + (Q_g ⊙ λ^{t+1}) S_g,   S_{g+1} = λ^c S_g + (K_g ⊙ λ^{c−1−s})ᵀ V_g,   D_ts = λ^{t−s} (t ≥ s),
// and with a normaliser o / (q̃·z + eps), z carried like S for a column of ones in V. Q and K may first go
// through an element-wise feature map φ (and Q a scale), applied here segment by segment too.
// Why one op that walks the sequence in segments of a few chunks, forward and in a hand-written backward:
// composed from TF.js ops under tf.grads, every step was a pass over [b, h, seq, d]-sized tensors and so was
// each of their gradients; on wasm those passes got slower per token once the tensors outgrew the cache
// (fwd+bwd time(16384)/time(2048) measured 10.7–12.3 for 8× the tokens), and the tape held ~70k tensors.
// Here each segment's tensors stay cache-sized and the tape holds only the op's inputs.
import * as tf from "@tensorflow/tfjs";
import { batchMatMul } from "@attnkit/core";
import { decayPower, lowerGrid, range } from "./decay-grid";
import { takeRows } from "./rows";
import { segmentsOf, type Segment } from "./segments";

// Rows (batch·heads × tokens) per segment: 2048 rows of 64 floats are 512 KiB per tensor.
const SEGMENT_ROWS = 2048;
// The states inside a segment come from one (G+1)×(G+1) product per row, so G stays small.
const MAX_CHUNKS = 32;

// op(a)·op(b) through core's batchMatMul takes one small transpose per matrix for a transposed operand;
// one transpose of the whole [r, G, m, n] tensor first is much cheaper on wasm.
const swap = (x: tf.Tensor) => tf.transpose(x, [...x.shape.slice(0, -2).map((_, i) => i), x.rank - 1, x.rank - 2]);

interface Grids {
  /** D, [r or 1, 1, c, c]. */
  d: tf.Tensor;
  /** P_gj = λ^{c(g−j)} for j ≤ g, [r, G+1, G+1]: the states at every chunk start (and the end) from [S_in; W]. */
  p: tf.Tensor;
  pT: tf.Tensor;
  /** With a decay: λ^{t+1} and λ^{c−1−s} [r, 1, c, 1], and the exponents of D, P and those (for d log λ). */
  decay: { qd: tf.Tensor; kd: tf.Tensor; diff: tf.Tensor; pe: tf.Tensor; qe: tf.Tensor; ke: tf.Tensor } | null;
}

function gridsFor(logRows: tf.Tensor | null, r: number, c: number, g: number): Grids {
  const intra = lowerGrid(c);
  const scan = lowerGrid(g + 1);
  if (!logRows) {
    const p = tf.broadcastTo(scan.mask, [r, g + 1, g + 1]);
    return { d: intra.mask.reshape([1, 1, c, c]), p, pT: swap(p), decay: null };
  }
  const pe = scan.diff.mul(c);
  const qe = range(1, c).reshape([c, 1]);
  const ke = range(c - 1, c, -1).reshape([c, 1]);
  const p = decayPower(logRows, pe).mul(scan.mask);
  return {
    d: decayPower(logRows, intra.diff).mul(intra.mask).reshape([r, 1, c, c]),
    p,
    pT: swap(p),
    decay: { qd: decayPower(logRows, qe).reshape([r, 1, c, 1]), kd: decayPower(logRows, ke).reshape([r, 1, c, 1]), diff: intra.diff, pe, qe, ke },
  };
}

/** One segment's q, k [r, G, c, dk] and v [r, G, c, dv]. */
interface Piece {
  q: tf.Tensor;
  k: tf.Tensor;
  v: tf.Tensor;
}
/** An element-wise feature map φ, and its derivative dφ/dx given y = φ(x). */
export interface ElementwiseMap {
  value: (x: tf.Tensor) => tf.Tensor;
  slope: (y: tf.Tensor) => tf.Tensor;
}

/** φ(q)·scale and φ(k), with φ(q) unscaled (for the slopes). */
function mapPiece(x: Piece, map: ElementwiseMap | null, qScale: number): Piece & { qPhi: tf.Tensor } {
  const qPhi = map ? map.value(x.q) : x.q;
  return { q: qScale === 1 ? qPhi : qPhi.mul(qScale), k: map ? map.value(x.k) : x.k, v: x.v, qPhi };
}

/** State at a segment boundary: s [r, dk, dv], z [r, dk] with the normaliser. */
interface Carry {
  s: tf.Tensor;
  z: tf.Tensor | null;
}

/** What the backward pass takes from a segment's forward pass (null where the options need none). */
interface Kept {
  /** Masked scores Q Kᵀ ⊙ D, [r, G, c, c]. */
  a: tf.Tensor;
  /** States at the chunk starts, [r, G, dk, dv]. */
  s: tf.Tensor;
  /** [S_in; W] flattened, [r, G+1, dk·dv] (for d log λ). */
  sx: tf.Tensor | null;
  /** Normaliser at the chunk starts [r, G, dk], the denominators [r, G, c, 1], and [z_in; Σ K̃] (for d log λ). */
  z: tf.Tensor | null;
  den: tf.Tensor | null;
  zx: tf.Tensor | null;
}
/** The fields of Kept that the options fill, in order. */
const keptKeys = (decay: boolean, norm: boolean) => (["a", "s", "sx", "z", "den", "zx"] as const).filter((key) => (key === "sx" ? decay : key === "zx" ? decay && norm : key === "z" || key === "den" ? norm : true));

/** A segment's output [r, G, c, dv], the carry it hands on, and what its backward pass needs. */
function forwardSegment(x: Piece, g: Grids, carry: Carry, eps: number | null): { out: tf.Tensor; next: Carry; kept: Kept } {
  const [r, n, , dk] = x.q.shape as number[];
  const dv = x.v.shape[3]!;
  const a = batchMatMul(x.q, swap(x.k)).mul(g.d);
  const qt = g.decay ? x.q.mul(g.decay.qd) : x.q;
  const kt = g.decay ? x.k.mul(g.decay.kd) : x.k;
  // [S_in; W_0 … W_{G−1}] with W_g = K̃_gᵀV_g; P·that = [S_0 … S_{G−1}; S_out].
  const sx = tf.concat([carry.s.reshape([r!, 1, dk! * dv]), batchMatMul(swap(kt), x.v).reshape([r!, n!, dk! * dv])], 1);
  const sAll = batchMatMul(g.p, sx);
  const s = takeRows(sAll, 0, n!).reshape([r!, n!, dk!, dv]);
  const next: Carry = { s: takeRows(sAll, n!, 1).reshape([r!, dk!, dv]), z: null };
  const num = batchMatMul(a, x.v).add(batchMatMul(qt, s));
  const kept: Kept = { a, s, sx: g.decay ? sx : null, z: null, den: null, zx: null };
  if (eps === null) return { out: num, next, kept };
  const zx = tf.concat([carry.z!.reshape([r!, 1, dk!]), kt.sum(2)], 1);
  const zAll = batchMatMul(g.p, zx);
  const z = takeRows(zAll, 0, n!); // [r, G, dk]
  next.z = takeRows(zAll, n!, 1).reshape([r!, dk!]);
  const den = a.sum(3, true).add(batchMatMul(qt, z.expandDims(3))).add(eps); // q̃·z_t + eps, [r, G, c, 1]
  return { out: num.div(den), next, kept: { ...kept, z, den, zx: g.decay ? zx : null } };
}

// Gradients of one segment from its inputs, what its forward pass kept, dOut [r, G, c, dv], its output `out`
// (needed with the normaliser only) and the gradient of the state it hands on (dNext): dq, dk, dv, the
// gradient of the state it starts from, and with a decay d log λ per row.
function backwardSegment(raw: Piece, map: ElementwiseMap | null, qScale: number, g: Grids, f: Kept, dOut: tf.Tensor, out: tf.Tensor | null, dNext: Carry, decayGrad: boolean) {
  const x = mapPiece(raw, map, qScale);
  const [r, n, , dk] = x.q.shape as number[];
  const dv = x.v.shape[3]!;
  const qt = g.decay ? x.q.mul(g.decay.qd) : x.q;
  const kt = g.decay ? x.k.mul(g.decay.kd) : x.k;
  const dnum = f.den ? dOut.div(f.den) : dOut;
  const dden = f.den ? dnum.mul(out!).sum(3, true).neg() : null; // out = num / den
  const dAv = batchMatMul(dnum, swap(x.v));
  const dAraw = dden ? dAv.add(dden) : dAv; // d a
  const dA = dAraw.mul(g.d);
  let dqt = batchMatMul(dnum, swap(f.s));
  if (dden) dqt = dqt.add(dden.mul(f.z!.expandDims(2)));
  // The states' own gradients (rows 0…G−1 from this segment's outputs, row G from the next segment) go
  // back through Pᵀ to [S_in; W].
  const dsAll = tf.concat([batchMatMul(swap(qt), dnum).reshape([r!, n!, dk! * dv]), dNext.s.reshape([r!, 1, dk! * dv])], 1);
  const hs = batchMatMul(g.pT, dsAll);
  const dw = takeRows(hs, 1, n!).reshape([r!, n!, dk!, dv]);
  let dkt = batchMatMul(x.v, swap(dw));
  const prev: Carry = { s: takeRows(hs, 0, 1).reshape([r!, dk!, dv]), z: null };
  let dzAll: tf.Tensor | null = null;
  if (dden) {
    dzAll = tf.concat([qt.mul(dden).sum(2), dNext.z!.reshape([r!, 1, dk!])], 1);
    const hz = batchMatMul(g.pT, dzAll);
    dkt = dkt.add(takeRows(hz, 1, n!).expandDims(2));
    prev.z = takeRows(hz, 0, 1).reshape([r!, dk!]);
  }
  const dqm = batchMatMul(dA, x.k).add(g.decay ? dqt.mul(g.decay.qd) : dqt);
  const dkm = batchMatMul(swap(dA), x.q).add(g.decay ? dkt.mul(g.decay.kd) : dkt);
  const dqs = qScale === 1 ? dqm : dqm.mul(qScale);
  const dq = map ? dqs.mul(map.slope(x.qPhi)) : dqs;
  const dk_ = map ? dkm.mul(map.slope(x.k)) : dkm;
  const dv_ = batchMatMul(swap(f.a), dnum).add(batchMatMul(kt, dw));
  if (!g.decay || !decayGrad) return { dq, dk: dk_, dv: dv_, prev, dLog: null };
  // d λ^e / d log λ = e·λ^e: each decayed factor's gradient times its value and exponent.
  let dp = batchMatMul(dsAll, swap(f.sx!));
  if (dzAll) dp = dp.add(batchMatMul(dzAll, swap(f.zx!)));
  const perRow = (t: tf.Tensor) => t.reshape([r!, -1]).sum(1);
  const { diff, pe, qe, ke } = g.decay;
  const dLog = tf.addN([perRow(dAraw.mul(f.a).mul(diff)), perRow(dqt.mul(qt).mul(qe)), perRow(dkt.mul(kt).mul(ke)), perRow(dp.mul(g.p).mul(pe))]);
  return { dq, dk: dk_, dv: dv_, prev, dLog };
}

export interface ChunkedInputs {
  /** [b, h, seq, dk] */
  q: tf.Tensor;
  k: tf.Tensor;
  /** [b, h, seq, dv] */
  v: tf.Tensor;
  /** Initial state [b, h, dk, dv]. */
  s0: tf.Tensor;
  /** Initial normaliser [b, h, dk]: required with eps, ignored without. */
  z0: tf.Tensor | null;
  /** log λ per head: a [h] tensor (differentiated), host values (a constant decay: no gradient), or null. */
  logDecay: tf.Tensor | number[] | null;
  /** φ for q and k (null: none), and the scale of φ(q). */
  map: ElementwiseMap | null;
  qScale: number;
}

/** The causal output [b, h, seq, dv] for φ(q)·qScale, φ(k) and v in chunks of `chunkSize`, divided by q̃·z + eps when eps is not null. */
export function chunkedCausal(x: ChunkedInputs, chunkSize: number, eps: number | null): tf.Tensor {
  const [b, h, seq, dk] = x.q.shape as number[];
  const dv = x.v.shape[3]!;
  const r = b! * h!;
  const segs = segmentsOf(seq!, chunkSize, r, SEGMENT_ROWS, MAX_CHUNKS);
  const norm = eps !== null;
  const decayGrad = x.logDecay instanceof tf.Tensor;
  const keys = keptKeys(decayGrad, norm);
  const rows = (t: tf.Tensor) => t.reshape([r, seq!, t.shape[3]!]);
  const pieceOf = (q3: tf.Tensor, k3: tf.Tensor, v3: tf.Tensor, seg: Segment): Piece => {
    const cut = (t: tf.Tensor) => takeRows(t, seg.from, seg.chunks * seg.size).reshape([r, seg.chunks, seg.size, t.shape[2]!]);
    return { q: cut(q3), k: cut(k3), v: cut(v3) };
  };
  const allGrids = (logDecay: tf.Tensor | null) => {
    const values = x.logDecay instanceof tf.Tensor ? null : x.logDecay;
    const logRows = logDecay ? tf.tile(logDecay, [b!]) : values ? tf.tensor1d(Array.from({ length: r }, (_, i) => values[i % h!]!)) : null;
    const map = new Map<string, Grids>();
    for (const s of segs) if (!map.has(`${s.size}/${s.chunks}`)) map.set(`${s.size}/${s.chunks}`, gridsFor(logRows, r, s.size, s.chunks));
    return (s: Segment) => map.get(`${s.size}/${s.chunks}`)!;
  };
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const [q, k, v, s0, ...rest] = args.slice(0, -1) as tf.Tensor[];
    const logDecay = decayGrad ? rest[rest.length - 1]! : null;
    const grids = allGrids(logDecay);
    const [q3, k3, v3] = [rows(q!), rows(k!), rows(v!)];
    let carry: Carry = { s: s0!.reshape([r, dk!, dv]), z: norm ? rest[0]!.reshape([r, dk!]) : null };
    // What each segment's backward pass needs (Kept's non-null fields in order), rather than recomputing
    // it: reading it back costs less on wasm than the ~100 small products it would take.
    const kept: tf.Tensor[] = [];
    const outs: tf.Tensor[] = [];
    for (const seg of segs) {
      const [out, s, ...more] = tf.tidy(() => {
        const f = forwardSegment(mapPiece(pieceOf(q3, k3, v3, seg), x.map, x.qScale), grids(seg), carry, eps);
        return [f.out.reshape([r, seg.chunks * seg.size, dv]), f.next.s, ...(norm ? [f.next.z!] : []), ...keys.map((key) => f.kept[key]!)];
      });
      outs.push(out!);
      carry = { s: s!, z: norm ? more.shift()! : null };
      kept.push(...more);
    }
    const value = tf.concat(outs, 1).reshape([b!, h!, seq!, dv]);
    // With the normaliser the backward pass needs the output itself too.
    save([q!, k!, v!, ...(logDecay ? [logDecay] : []), ...(norm ? [value] : []), ...kept]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [sq, sk, sv] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
          const sLog = decayGrad ? saved[3]! : null;
          const sOut = norm ? rows(saved[decayGrad ? 4 : 3]!) : null;
          const keptAll = saved.slice(3 + (decayGrad ? 1 : 0) + (norm ? 1 : 0));
          const keptAt = (i: number): Kept => {
            const f = { sx: null, z: null, den: null, zx: null } as unknown as Kept;
            keys.forEach((key, j) => (f[key] = keptAll[i * keys.length + j]!));
            return f;
          };
          const gridsB = allGrids(sLog);
          const [bq, bk, bv, dy3] = [rows(sq), rows(sk), rows(sv), rows(dy)];
          let dNext: Carry = { s: tf.zeros([r, dk!, dv]), z: norm ? tf.zeros([r, dk!]) : null };
          let dLog = decayGrad ? tf.zeros([r]) : null;
          const dqs: tf.Tensor[] = [];
          const dks: tf.Tensor[] = [];
          const dvs: tf.Tensor[] = [];
          for (let i = segs.length - 1; i >= 0; i--) {
            const seg = segs[i]!;
            const len = seg.length;
            const [dq, dk_, dv_, ds, ...more] = tf.tidy(() => {
              const cut = (t: tf.Tensor) => takeRows(t, seg.from, len).reshape([r, seg.chunks, seg.size, dv]);
              const gr = backwardSegment(pieceOf(bq, bk, bv, seg), x.map, x.qScale, gridsB(seg), keptAt(i), cut(dy3), sOut ? cut(sOut) : null, dNext, decayGrad);
              const flat = (t: tf.Tensor) => t.reshape([r, len, t.shape[3]!]);
              return [flat(gr.dq), flat(gr.dk), flat(gr.dv), gr.prev.s, ...(gr.prev.z ? [gr.prev.z] : []), ...(gr.dLog ? [dLog!.add(gr.dLog)] : [])];
            });
            dqs.push(dq!);
            dks.push(dk_!);
            dvs.push(dv_!);
            dNext = { s: ds!, z: norm ? more[0]! : null };
            if (decayGrad) dLog = more[more.length - 1]!;
          }
          const whole = (parts: tf.Tensor[], d: number) => tf.concat(parts.reverse(), 1).reshape([b!, h!, seq!, d]);
          return [
            whole(dqs, dk!),
            whole(dks, dk!),
            whole(dvs, dv),
            dNext.s.reshape([b!, h!, dk!, dv]),
            ...(norm ? [dNext.z!.reshape([b!, h!, dk!])] : []),
            ...(dLog ? [dLog.reshape([b!, h!]).sum(0)] : []),
          ];
        }),
    };
  });
  return op(x.q, x.k, x.v, x.s0, ...(norm ? [x.z0!] : []), ...(x.logDecay instanceof tf.Tensor ? [x.logDecay] : []));
}
