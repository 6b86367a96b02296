// The environment section: what the caller states, plus backend and versions read from the runs'
// configs (one line each when all runs agree, the distinct values otherwise).
import type { RunConfig, RunRecord } from "../run-files";

function describeBackend(backend: RunConfig["backend"]): string {
  const parts = [backend.name];
  if (backend.adapter !== undefined && backend.adapter !== "") parts.push(`adapter ${backend.adapter}`);
  // Hardware or software only tells WebGPU adapters apart; cpu and wasm are always software.
  if (backend.name === "webgpu" && backend.hardware !== undefined) parts.push(backend.hardware ? "hardware" : "software renderer");
  const text = parts.join(", ");
  return backend.note !== undefined && backend.note !== "" ? `${text} (${backend.note})` : text;
}

function distinctJoined(values: Iterable<string>): string {
  return [...new Set(values)].join(" / ");
}

export function environmentEntries(runs: readonly RunRecord[], stated: Record<string, string> = {}): [string, string][] {
  const entries: [string, string][] = Object.entries(stated);
  const add = (key: string, value: string): void => {
    if (value !== "" && !(key in stated)) entries.push([key, value]);
  };
  add("backend", distinctJoined(runs.map((run) => describeBackend(run.config.backend))));
  const versions = new Map<string, string[]>();
  for (const run of runs) {
    for (const [name, version] of Object.entries(run.config.versions ?? {})) versions.set(name, [...(versions.get(name) ?? []), version]);
  }
  add("versions", [...versions].map(([name, list]) => `${name} ${distinctJoined(list)}`).join(", "));
  return entries;
}
