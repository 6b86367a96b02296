// The backend a run uses: `--backend` when given, else the fastest that works (initBackend ranks a
// software WebGPU adapter after wasm). What was chosen, and why others were skipped, is printed and
// recorded in config.json.
import { assertOneOf, backendInfo, initBackend, OptionError, type BackendName } from "@attnkit/core";
import type { RunConfig } from "../run-files";

const CHOICES = ["cpu", "wasm", "webgpu"] as const;

export async function setupBackend(requested: string | undefined, log: (line: string) => void): Promise<RunConfig["backend"]> {
  if (requested !== undefined) assertOneOf("--backend", "backend", requested, CHOICES);
  const prefer = requested === undefined ? undefined : [requested as BackendName];
  try {
    await initBackend({ quiet: true, ...(prefer ? { prefer } : {}) });
  } catch (e) {
    throw new OptionError(`--backend ${requested ?? "(auto)"}: ${(e as Error).message}`);
  }
  const info = backendInfo();
  const note = info.skipped.length > 0 ? `skipped ${info.skipped.join("; ")}` : undefined;
  const adapter = info.adapter ? `, adapter ${info.adapter} (${info.hardware ? "hardware GPU" : "software renderer"})` : "";
  log(`backend: ${info.name}${adapter}`);
  for (const reason of info.skipped) log(`  skipped ${reason}`);
  return { name: info.name, ...(info.adapter ? { adapter: info.adapter } : {}), hardware: info.hardware, ...(note ? { note } : {}) };
}
