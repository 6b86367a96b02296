// Runs a suite once per backend. ATTNKIT_BACKENDS (comma-separated) narrows the list for a quick local
// run; CI runs them all. A backend that cannot start fails its suite: it is never skipped silently.
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe } from "vitest";
import { initBackend, type BackendName } from "@attnkit/core";

export const ALL_BACKENDS: readonly BackendName[] = ["cpu", "wasm", "webgpu"];

export function selectedBackends(wanted: readonly BackendName[] = ALL_BACKENDS): BackendName[] {
  const env = typeof process !== "undefined" ? process.env.ATTNKIT_BACKENDS : undefined;
  if (!env) return [...wanted];
  const allowed = env.split(",").map((s) => s.trim());
  return wanted.filter((b) => allowed.includes(b));
}

/** Switches to `backend` (initialising it on first use) and silences TF.js's Node banner. */
export async function useBackend(backend: BackendName): Promise<void> {
  // PROD silences the "install tfjs-node" banner. (IS_TEST would too, but it also turns on a kernel
  // data-id check that misreads customGrad's saved clones on wasm as leaks; expectNoLeaks checks leaks.)
  tf.env().set("PROD", true);
  const got = await initBackend({ prefer: [backend], quiet: true });
  if (got !== backend) throw new Error(`could not start the ${backend} backend (got ${got})`);
}

/** `describe(name [backend])` once per backend, with the backend set before its tests. */
export function describeBackends(name: string, suite: (backend: BackendName) => void, backends: readonly BackendName[] = ALL_BACKENDS): void {
  for (const backend of selectedBackends(backends)) {
    describe(`${name} [${backend}]`, () => {
      beforeAll(() => useBackend(backend));
      suite(backend);
    });
  }
}

/** Float tolerance of a backend: WebGPU computes in float32 with fused kernels, a little looser. */
export function backendTolerance(backend: BackendName, base: { atol: number; rtol: number }): { atol: number; rtol: number } {
  return backend === "webgpu" ? { atol: base.atol * 2, rtol: base.rtol * 2 } : base;
}
