// Picks and initialises the fastest TF.js backend that works here.
// Node: WebGPU through Dawn (the optional `webgpu` package), with Mesa's software renderer where no GPU
// driver exists; then wasm with its .wasm files resolved from the installed package; then cpu.
// Browser: navigator.gpu, then wasm, then cpu (webgl on request).
import * as tf from "@tensorflow/tfjs";
import { assertKnownOptions, assertOneOf } from "./validate";
import { OptionError } from "./errors";

export type BackendName = "webgpu" | "wasm" | "cpu" | "webgl";
const BACKENDS: readonly BackendName[] = ["webgpu", "wasm", "cpu", "webgl"];

export interface InitBackendOptions {
  /** Backends to try, in order. Default `['webgpu', 'wasm', 'cpu']`, with a software WebGPU adapter ranked after wasm. */
  prefer?: BackendName[];
  /** Do not print why a backend was skipped. */
  quiet?: boolean;
}

export interface BackendInfo {
  /** The TF.js backend in use. */
  name: string;
  /** The WebGPU adapter's description, or null for other backends. */
  adapter: string | null;
  /** True only for a GPU adapter that is real hardware (not llvmpipe, SwiftShader or another software renderer). */
  hardware: boolean;
  /** Why earlier candidates were skipped, in order. */
  skipped: string[];
}

interface AdapterProbe {
  description: string;
  software: boolean;
}

let current: BackendInfo | null = null;
let webgpuProbe: Promise<AdapterProbe | string> | null = null;

const isNode = (): boolean => typeof process !== "undefined" && typeof process.versions?.node === "string";

// Specifiers hidden from bundlers: these modules exist only in Node and must never be bundled for a browser.
const nodeOnly = (name: string): Promise<unknown> => import(/* @vite-ignore */ name);

const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|softpipe|swiftshader|software|basic render/i;

interface AdapterLike {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
}

function describeAdapter(adapter: AdapterLike): AdapterProbe {
  const info = adapter.info ?? {};
  const parts = [info.vendor, info.architecture, info.device, info.description].filter((p): p is string => !!p);
  const description = parts.join(" / ") || "unknown adapter";
  const software = !!(info.isFallbackAdapter ?? adapter.isFallbackAdapter) || SOFTWARE_ADAPTER.test(description);
  return { description, software };
}

/** Makes `navigator.gpu` exist in Node (Dawn), choosing a real GPU when one has a driver, else Mesa over OpenGL. */
async function installNodeWebGPU(): Promise<AdapterProbe | string> {
  process.env.EGL_PLATFORM ??= "surfaceless"; // without it Dawn's EGL finds no display and returns no adapter
  let mod: { create: (flags: string[]) => GPU; globals: Record<string, unknown> };
  try {
    mod = (await nodeOnly("webgpu")) as typeof mod;
  } catch {
    return "the optional package 'webgpu' (Dawn for Node) is not installed";
  }
  Object.assign(globalThis, mod.globals);
  const fs = (await nodeOnly("node:fs")) as typeof import("node:fs");
  const hasVulkanDriver =
    !!process.env.VK_ICD_FILENAMES ||
    ["/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d"].some((d) => fs.existsSync(d) && fs.readdirSync(d).length > 0);
  // The platform default (Vulkan) reaches a real GPU; OpenGL in compatibility mode reaches Mesa's llvmpipe.
  const attempts: { flags: string[]; options: Record<string, unknown> }[] = [
    ...(hasVulkanDriver ? [{ flags: [], options: {} }] : []),
    { flags: ["backend=opengl"], options: { featureLevel: "compatibility" } },
  ];
  for (const { flags, options } of attempts) {
    const gpu = mod.create(flags);
    const adapter = await gpu.requestAdapter(options as GPURequestAdapterOptions);
    if (!adapter) continue;
    const request = gpu.requestAdapter.bind(gpu);
    // TF.js requests its own adapter: give it the same options.
    gpu.requestAdapter = (o?: GPURequestAdapterOptions) => request({ ...options, ...o });
    // Node ≥ 21 defines a getter-only `navigator`; defineProperty replaces it.
    const nav = (globalThis as { navigator?: object }).navigator ?? {};
    Object.defineProperty(globalThis, "navigator", { value: Object.assign(Object.create(nav), { gpu }), configurable: true, writable: true });
    return describeAdapter(adapter as unknown as AdapterLike);
  }
  return "Dawn found no WebGPU adapter (no GPU driver, and Mesa's EGL/OpenGL could not be opened: install libegl1 libegl-dev libegl-mesa0 libgl1-mesa-dri)";
}

async function probeWebGPU(): Promise<AdapterProbe | string> {
  if (isNode()) return installNodeWebGPU();
  const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!gpu) return "this browser has no navigator.gpu";
  const adapter = await gpu.requestAdapter();
  if (!adapter) return "navigator.gpu.requestAdapter() returned no adapter";
  return describeAdapter(adapter as unknown as AdapterLike);
}

async function registerWasm(): Promise<void> {
  const wasm = await import("@tensorflow/tfjs-backend-wasm");
  if (isNode()) {
    const { createRequire } = (await nodeOnly("node:module")) as typeof import("node:module");
    const path = (await nodeOnly("node:path")) as typeof import("node:path");
    const require = createRequire(import.meta.url);
    const dir = path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json"));
    wasm.setWasmPaths(`${path.join(dir, "dist")}${path.sep}`);
  }
}

async function tryBackend(name: BackendName): Promise<{ adapter: AdapterProbe | null } | string> {
  try {
    let adapter: AdapterProbe | null = null;
    if (name === "webgpu") {
      webgpuProbe ??= probeWebGPU();
      const probe = await webgpuProbe;
      if (typeof probe === "string") return probe;
      adapter = probe;
      await import("@tensorflow/tfjs-backend-webgpu");
    } else if (name === "wasm") {
      await registerWasm();
    }
    const ok = await tf.setBackend(name);
    if (!ok) return `tf.setBackend('${name}') failed`;
    await tf.ready();
    return { adapter };
  } catch (err) {
    return err instanceof Error ? err.message.split("\n")[0]! : String(err);
  }
}

/**
 * Initialises the first backend that works and returns its name. Without `prefer`, the order is webgpu,
 * wasm, cpu, except that a software WebGPU adapter (llvmpipe, SwiftShader) ranks after wasm, which is
 * faster on a CPU. `backendInfo()` then tells whether the adapter is hardware.
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<string> {
  const fn = "initBackend";
  assertKnownOptions(fn, options, ["prefer", "quiet"]);
  const explicit = options.prefer !== undefined;
  if (explicit && (!Array.isArray(options.prefer) || options.prefer.length === 0)) {
    throw new OptionError(`${fn}: prefer must be a non-empty array of ${BACKENDS.map((b) => `'${b}'`).join(", ")}, got ${String(options.prefer)}`);
  }
  const order = [...(options.prefer ?? ["webgpu", "wasm", "cpu"])];
  order.forEach((b, i) => assertOneOf(fn, `prefer[${i}]`, b, BACKENDS));
  const skipped: string[] = [];
  for (let i = 0; i < order.length; i++) {
    const name = order[i]!;
    if (name === "webgpu" && !explicit) {
      webgpuProbe ??= probeWebGPU();
      const probe = await webgpuProbe;
      const wasmIndex = order.indexOf("wasm");
      if (typeof probe !== "string" && probe.software && wasmIndex > i) {
        skipped.push(`webgpu: the only adapter is a software renderer (${probe.description}); wasm is faster on a CPU`);
        order.splice(wasmIndex + 1, 0, "webgpu");
        continue;
      }
    }
    const result = await tryBackend(name);
    if (typeof result === "string") {
      skipped.push(`${name}: ${result}`);
      continue;
    }
    current = {
      name,
      adapter: result.adapter?.description ?? null,
      hardware: result.adapter !== null && !result.adapter.software,
      skipped,
    };
    if (!options.quiet) for (const reason of skipped) console.warn(`attnkit: skipped ${reason}`);
    return name;
  }
  throw new OptionError(`${fn}: no backend in [${order.join(", ")}] could be initialised: ${skipped.join("; ")}`);
}

/** What `initBackend` chose. Before any call it describes TF.js's current backend. */
export function backendInfo(): BackendInfo {
  if (current && current.name === tf.getBackend()) return { ...current, skipped: [...current.skipped] };
  return { name: tf.getBackend(), adapter: null, hardware: false, skipped: [] };
}
