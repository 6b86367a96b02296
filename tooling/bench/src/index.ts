// Benchmark helpers: medians after warm-up, ratios measured side by side in one process, a printed
// table, JSON results, and targets whose misses set a non-zero exit code.
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { initBackend, type BackendName } from "@attnkit/core";

type Result = tf.Tensor | tf.Tensor[] | Record<string, tf.Tensor> | undefined;

function tensorsOf(x: unknown): tf.Tensor[] {
  if (x instanceof tf.Tensor) return [x];
  if (Array.isArray(x)) return x.flatMap(tensorsOf);
  if (x && typeof x === "object") return Object.values(x).flatMap(tensorsOf);
  return [];
}

/** Starts `backend` (exactly that one) quietly. */
export async function setupBench(backend: BackendName = "wasm"): Promise<string> {
  tf.env().set("PROD", true);
  return initBackend({ prefer: [backend], quiet: true });
}

export interface MeasureOptions {
  warmup?: number;
  reps?: number;
}

/** Median wall time in ms of `fn`, waiting for its results to be computed and disposing them. */
export async function measure(fn: () => Result | Promise<Result>, options: MeasureOptions = {}): Promise<number> {
  const { warmup = 1, reps = 5 } = options;
  const once = async (): Promise<number> => {
    // A scope per call, so the intermediates of a formulation without its own tf.tidy (the naive
    // baselines) are freed too and never pile up across repetitions.
    tf.engine().startScope();
    const t0 = performance.now();
    const out = tensorsOf(await fn());
    await Promise.all(out.map((t) => t.data()));
    const ms = performance.now() - t0;
    tf.engine().endScope();
    return ms;
  };
  for (let i = 0; i < warmup; i++) await once();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) times.push(await once());
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

/** The median of `xs` (the upper one for an even count). */
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export interface Timing {
  wallMs: number;
  cpuMs: number;
}

/**
 * Median wall-clock and process CPU time (user + system) in ms over `reps` calls of `fn`, each waiting for
 * its results and freeing its intermediates; no warm-up. On a shared machine the wall clock measures the
 * scheduler as much as the code, while CPU time counts only this process's work (TF.js wasm runs on one
 * thread, so on an idle machine the two agree).
 */
export async function measureCpu(fn: () => Result, reps = 1): Promise<Timing> {
  const walls: number[] = [];
  const cpus: number[] = [];
  for (let i = 0; i < reps; i++) {
    tf.engine().startScope();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const out = tensorsOf(fn());
    await Promise.all(out.map((t) => t.data()));
    walls.push(performance.now() - t0);
    const cpu = process.cpuUsage(cpu0);
    cpus.push((cpu.user + cpu.system) / 1000);
    tf.engine().endScope();
  }
  return { wallMs: median(walls), cpuMs: median(cpus) };
}

/** Peak bytes of tensor memory that `fn` adds above what was already allocated (tf.profile). */
export async function peakBytes(fn: () => Result): Promise<number> {
  const before = tf.memory().numBytes;
  const info = await tf.profile(() => tf.tidy(() => tensorsOf(fn())) as unknown as tf.TensorContainer);
  tf.dispose(info.result as unknown as tf.Tensor[]);
  return info.peakBytes - before;
}

export interface Target {
  /** The ratio must be at least this. */
  min?: number;
  /** The ratio must be at most this. */
  max?: number;
}

interface Row {
  name: string;
  value: number;
  unit: string;
  target?: Target;
  passed?: boolean;
}

/** Collects timings and ratios of one benchmark file, prints them and writes `bench-results/<id>.json`. */
export class BenchReport {
  private rows: Row[] = [];
  constructor(
    readonly id: string,
    readonly backend: string,
  ) {}

  /** A raw measurement (ms, bytes, GFLOP/s ...). */
  add(name: string, value: number, unit: string): number {
    this.rows.push({ name, value, unit });
    return value;
  }

  /** A ratio with an optional target; a missed target fails the run. */
  ratio(name: string, value: number, target?: Target): number {
    const passed = target ? (target.min === undefined || value >= target.min) && (target.max === undefined || value <= target.max) : undefined;
    this.rows.push({ name, value, unit: "×", ...(target ? { target } : {}), ...(passed !== undefined ? { passed } : {}) });
    return value;
  }

  get failed(): boolean {
    return this.rows.some((r) => r.passed === false);
  }

  finish(outDir = process.env.ATTNKIT_BENCH_OUT ?? path.resolve(process.cwd(), "bench-results")): void {
    const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3));
    console.log(`\n${this.id} (backend ${this.backend})`);
    const width = Math.max(...this.rows.map((r) => r.name.length), 10);
    for (const r of this.rows) {
      const t = r.target ? ` target ${r.target.min !== undefined ? `≥ ${r.target.min}` : ""}${r.target.min !== undefined && r.target.max !== undefined ? " and " : ""}${r.target.max !== undefined ? `≤ ${r.target.max}` : ""} ${r.passed ? "PASS" : "FAIL"}` : "";
      console.log(`  ${r.name.padEnd(width)}  ${fmt(r.value).padStart(10)} ${r.unit}${t}`);
    }
    mkdirSync(outDir, { recursive: true });
    const file = path.join(outDir, `${this.id}.json`);
    const json = JSON.stringify({ id: this.id, backend: this.backend, date: new Date().toISOString(), rows: this.rows }, null, 2);
    writeFileSync(`${file}.tmp`, json);
    renameSync(`${file}.tmp`, file);
    if (this.failed) process.exitCode = 1;
  }
}
