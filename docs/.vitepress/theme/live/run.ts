// Runs one example module in the page: one at a time (the TF.js backend and the console are global),
// with console.log/info/warn copied into the page. An ES module runs once per page load, so a result is
// kept and shown again when the reader comes back to the page.
import type { BackendName } from "@attnkit/core";
import { exampleLoader } from "./examples";

export interface ExampleRun {
  lines: string[];
  exports: Record<string, unknown>;
  backend: string;
  adapter: string | null;
  ms: number;
}

const finished = new Map<string, Promise<ExampleRun>>();
let queue: Promise<unknown> = Promise.resolve();

function format(args: unknown[]): string {
  return args.map((a) => (typeof a === "string" ? a : a instanceof Error ? a.message : JSON.stringify(a))).join(" ");
}

async function runNow(name: string, order: BackendName[], onLine: (line: string) => void): Promise<ExampleRun> {
  const load = exampleLoader(name);
  if (!load) throw new Error(`no example named ${name}`);
  const core = await import("./core-in-page");
  const tf = await import("@tensorflow/tfjs");
  const lines: string[] = [];
  const saved = { log: console.log, info: console.info, warn: console.warn };
  const capture =
    (original: (...a: unknown[]) => void, prefix: string) =>
    (...args: unknown[]) => {
      const line = prefix + format(args);
      lines.push(line);
      onLine(line);
      original(...args);
    };
  console.log = capture(saved.log, "");
  console.info = capture(saved.info, "");
  console.warn = capture(saved.warn, "⚠ ");
  core.setPageBackendOrder(order);
  const t0 = performance.now();
  try {
    const exports = await load();
    const info = core.backendInfo();
    return { lines, exports, backend: tf.getBackend(), adapter: info.adapter, ms: performance.now() - t0 };
  } finally {
    Object.assign(console, saved);
    core.setPageBackendOrder(null);
  }
}

export function runExample(name: string, order: BackendName[], onLine: (line: string) => void): Promise<ExampleRun> {
  let run = finished.get(name);
  if (!run) {
    run = queue.then(() => runNow(name, order, onLine));
    queue = run.catch(() => undefined);
    finished.set(name, run);
  }
  return run;
}
