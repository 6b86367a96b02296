// σ_max of a small dense matrix in float64: λ_max(MᵀM) by Householder tridiagonalisation and Sturm
// bisection. Robust to close or repeated singular values, unlike power iteration.

/** Largest eigenvalue of a symmetric `n × n` matrix (row-major; overwritten). */
function largestEigenvalue(a: Float64Array, n: number): number {
  if (n === 0) return 0;
  const diag = new Float64Array(n);
  const off = new Float64Array(Math.max(0, n - 1));
  const v = new Float64Array(n);
  const p = new Float64Array(n);
  for (let k = 0; k + 2 < n; k++) {
    // Householder reflection that zeroes column k below the sub-diagonal.
    let norm = 0;
    for (let i = k + 1; i < n; i++) norm += a[i * n + k]! ** 2;
    norm = Math.sqrt(norm);
    if (norm === 0) continue;
    const alpha = a[(k + 1) * n + k]! > 0 ? -norm : norm;
    let vnorm = 0;
    for (let i = k + 1; i < n; i++) {
      v[i] = a[i * n + k]! - (i === k + 1 ? alpha : 0);
      vnorm += v[i]! ** 2;
    }
    vnorm = Math.sqrt(vnorm);
    if (vnorm === 0) continue;
    for (let i = k + 1; i < n; i++) v[i] = v[i]! / vnorm;
    // A22 ← H A22 H = A22 − 2 v qᵀ − 2 q vᵀ with p = A22 v, q = p − (vᵀp) v.
    let vp = 0;
    for (let i = k + 1; i < n; i++) {
      let s = 0;
      for (let j = k + 1; j < n; j++) s += a[i * n + j]! * v[j]!;
      p[i] = s;
      vp += v[i]! * s;
    }
    for (let i = k + 1; i < n; i++) p[i] = p[i]! - vp * v[i]!;
    for (let i = k + 1; i < n; i++)
      for (let j = k + 1; j < n; j++) a[i * n + j] = a[i * n + j]! - 2 * v[i]! * p[j]! - 2 * p[i]! * v[j]!;
    a[(k + 1) * n + k] = alpha;
    a[k * n + k + 1] = alpha;
  }
  for (let i = 0; i < n; i++) diag[i] = a[i * n + i]!;
  for (let i = 0; i + 1 < n; i++) off[i] = a[(i + 1) * n + i]!;
  // Gershgorin bounds, then bisection on the Sturm count of eigenvalues below x.
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    const r = (i > 0 ? Math.abs(off[i - 1]!) : 0) + (i + 1 < n ? Math.abs(off[i]!) : 0);
    lo = Math.min(lo, diag[i]! - r);
    hi = Math.max(hi, diag[i]! + r);
  }
  const below = (x: number): number => {
    let count = 0;
    let q = 1;
    for (let i = 0; i < n; i++) {
      q = diag[i]! - x - (i > 0 ? off[i - 1]! ** 2 / q : 0);
      if (q === 0) q = -1e-300;
      if (q < 0) count++;
    }
    return count;
  };
  for (let it = 0; it < 200 && hi - lo > 1e-15 * Math.max(1, Math.abs(hi)); it++) {
    const mid = (lo + hi) / 2;
    if (below(mid) === n) hi = mid;
    else lo = mid;
  }
  return (lo + hi) / 2;
}

/** Largest singular value of a row-major `rows × cols` matrix. */
export function largestSingularValue(m: Float64Array, rows: number, cols: number): number {
  const g = new Float64Array(cols * cols);
  for (let i = 0; i < cols; i++)
    for (let j = i; j < cols; j++) {
      let s = 0;
      for (let r = 0; r < rows; r++) s += m[r * cols + i]! * m[r * cols + j]!;
      g[i * cols + j] = s;
      g[j * cols + i] = s;
    }
  return Math.sqrt(Math.max(0, largestEigenvalue(g, cols)));
}
