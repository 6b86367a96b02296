// On the docs site `@attnkit/core` resolves to this module: all of core, plus an `initBackend` that
// uses the backend order the page chose for the example it is running (the example itself calls plain
// `initBackend()`, exactly as in Node). It also tells TF.js where the bundled .wasm binaries are, which
// every browser app using the wasm backend has to do.
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import wasmUrl from "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url";
import simdUrl from "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url";
import threadedUrl from "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url";
import { initBackend as chooseBackend, type BackendName, type InitBackendOptions } from "../../../../packages/core/dist/index.js";

export * from "../../../../packages/core/dist/index.js";

setWasmPaths({
  "tfjs-backend-wasm.wasm": wasmUrl,
  "tfjs-backend-wasm-simd.wasm": simdUrl,
  "tfjs-backend-wasm-threaded-simd.wasm": threadedUrl,
});

let pageOrder: BackendName[] | null = null;

/** The backend order for the examples that run next on this page (null: core's default order). */
export function setPageBackendOrder(order: BackendName[] | null): void {
  pageOrder = order;
}

export function initBackend(options: InitBackendOptions = {}): Promise<string> {
  return chooseBackend(pageOrder && !options.prefer ? { ...options, prefer: pageOrder } : options);
}
