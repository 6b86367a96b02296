// Shared by the lab's CLI tests: tiny sizes so a run trains in seconds on the cpu backend.
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { main } from "../src/main";

/** MQAR small enough for a 1-layer, 16-wide model: 2 pairs in 16 tokens, vocabulary 64. */
export const TINY_TASK = JSON.stringify({ vocabSize: 64, seqLen: 16, numKvPairs: 2, trainExamples: 64, testExamples: 8 });

export const TINY_SPEC = { version: 1, family: "decoder", name: "tiny", vocabSize: 64, seqLen: 16, dModel: 16, heads: 2, numLayers: 1 };

export async function tempDir(prefix = "attnkit-lab-"): Promise<string> {
  return mkdtemp(path.join(tmpdir(), prefix));
}

export async function tinySpecFile(dir: string, spec: object = TINY_SPEC): Promise<string> {
  const file = path.join(dir, "spec.json");
  await writeFile(file, JSON.stringify(spec));
  return file;
}

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

/** Runs the CLI's main in this process and captures what it prints. */
export async function cli(...argv: string[]): Promise<CliResult> {
  let out = "";
  let err = "";
  const code = await main(argv, { out: { write: (s: string) => (out += s) }, err: { write: (s: string) => (err += s) } });
  return { code, out, err };
}

/** `train` of the tiny spec on tiny MQAR on cpu into `out`. */
export function trainArgs(spec: string, out: string, ...extra: string[]): string[] {
  return ["train", "--spec", spec, "--task", "mqar", "--task-options", TINY_TASK, "--batch", "4", "--lr", "0.01", "--seed", "3", "--backend", "cpu", "--out", out, ...extra];
}
