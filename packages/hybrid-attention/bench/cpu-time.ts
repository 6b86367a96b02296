// Wall-clock and CPU time of a benchmark call. The bench machine is shared by several engineers: under
// load the wall clock measures the scheduler as much as the code (runs of the same size differed 2× within
// a minute), while this process's CPU time (user + system) counts only its own work. TF.js wasm runs on
// one thread here, so on an idle machine the two agree. The tooling's `measure` reports wall time only.
import * as tf from "@tensorflow/tfjs";

export interface Timing {
  wallMs: number;
  cpuMs: number;
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Medians over `reps` calls of `fn`, each waiting for its results and freeing its tensors. */
export async function measureCpu(fn: () => tf.Tensor | tf.Tensor[], reps = 1): Promise<Timing> {
  const walls: number[] = [];
  const cpus: number[] = [];
  for (let i = 0; i < reps; i++) {
    tf.engine().startScope();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const out = fn();
    await Promise.all((Array.isArray(out) ? out : [out]).map((t) => t.data()));
    walls.push(performance.now() - t0);
    const cpu = process.cpuUsage(cpu0);
    cpus.push((cpu.user + cpu.system) / 1000);
    tf.engine().endScope();
  }
  return { wallMs: median(walls), cpuMs: median(cpus) };
}
