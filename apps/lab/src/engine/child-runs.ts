// Runs of a comparison trained in parallel child processes (`attnkit-lab resume --run DIR` each). The
// wasm and cpu backends use one core per process, so on an n-core machine n runs train in the time of
// one. Output lines are prefixed with the run's name. Ctrl-C reaches the children too (same process
// group): each writes its checkpoint and exits 130.
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { EXIT_DIVERGED, type Output } from "../commands/context";
import type { StopSignal } from "./train";

/** node arguments that start this CLI: the bundle itself, or the TypeScript source through tsx. */
function cliArgs(): string[] {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith(".ts")) return ["--import", "tsx", path.resolve(path.dirname(here), "..", "cli.ts")];
  return [here];
}

function prefixLines(out: Output, prefix: string): (chunk: Buffer) => void {
  let pending = "";
  return (chunk) => {
    pending += chunk.toString();
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const line of lines) out.write(`[${prefix}] ${line}\n`);
  };
}

function runChild(dir: string, name: string, extraArgs: string[], out: Output): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...cliArgs(), "resume", "--run", dir, ...extraArgs], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", prefixLines(out, name));
    child.stderr.on("data", prefixLines(out, name));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve(code ?? (signal === "SIGINT" ? 130 : 1)));
  });
}

export interface ChildRun {
  name: string;
  dir: string;
}

/**
 * Trains `runs` with at most `jobs` children at a time. Returns "interrupted" if any child was
 * interrupted (the others finish or stop the same way). A child whose loss diverged has said so and
 * exited EXIT_DIVERGED; its metrics record where, and the caller decides what that means. A child that
 * fails otherwise is an error once the others are done.
 */
export async function trainInChildren(runs: ChildRun[], jobs: number, extraArgs: string[], out: Output, stop: StopSignal): Promise<"finished" | "interrupted"> {
  const queue = [...runs];
  let interrupted = false;
  const failures: string[] = [];
  const worker = async (): Promise<void> => {
    for (let run = queue.shift(); run; run = queue.shift()) {
      if (stop.requested || interrupted) return;
      const code = await runChild(run.dir, run.name, extraArgs, out);
      if (code === 130) interrupted = true;
      else if (code !== 0 && code !== EXIT_DIVERGED) failures.push(`${run.name} (exit code ${code})`);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, runs.length)) }, worker));
  if (failures.length > 0) throw new Error(`training failed for ${failures.join(", ")}; see the output above`);
  return interrupted || stop.requested ? "interrupted" : "finished";
}
