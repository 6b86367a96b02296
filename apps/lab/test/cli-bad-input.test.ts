// Bad input: one line on stderr naming the problem, exit code 2, no stack trace, nothing written or lost.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { CONFIG_FILE } from "../src/run-files";
import { cli, tempDir, TINY_SPEC, tinySpecFile, trainArgs } from "./lab-helpers";

function expectBadInput(r: { code: number; err: string; out: string }, pattern: RegExp): void {
  expect(r.code).toBe(2);
  expect(r.err).toMatch(pattern);
  expect(r.err.trim().split("\n")).toHaveLength(1);
  expect(r.err).not.toMatch(/\n\s+at /);
}

describe("attnkit-lab bad input", () => {
  it("rejects unknown commands, options, presets, tasks and recipes", async () => {
    const dir = await tempDir();
    expectBadInput(await cli("trian"), /unknown command 'trian'/);
    expectBadInput(await cli("train", "--preset", "dense", "--task", "mqar", "--stepz", "3"), /stepz/);
    expectBadInput(await cli("train", "--preset", "nope", "--task", "mqar", "--out", path.join(dir, "a")), /--preset: unknown preset 'nope'; known presets: .*dense/);
    expectBadInput(await cli("train", "--preset", "dense", "--task", "nope", "--backend", "cpu", "--out", path.join(dir, "b")), /unknown task "nope"/);
    expectBadInput(await cli("train", "--preset", "dense", "--out", path.join(dir, "c")), /--task is required/);
    expectBadInput(await cli("compare", "--recipe", "nope"), /unknown recipe "nope"/);
    expectBadInput(await cli("compare", "--recipe", "mqar", "--models", "softmax,nope", "--out", path.join(dir, "d")), /--models: .*'nope'/);
    expectBadInput(await cli("train", "--preset", "dense", "--task", "mqar", "--steps", "abc"), /--steps must be an integer, got 'abc'/);
    expectBadInput(await cli("compare", "--recipe", "mqar", "--batch", "0", "--out", path.join(dir, "f")), /--batch must be .*≥ 1|--batch must be .*1/);
    expectBadInput(await cli("compare", "--recipe", "mqar", "--lr", "fast", "--out", path.join(dir, "g")), /--lr must be a number, got 'fast'/);
    expectBadInput(await cli("compare", "--recipe", "mqar", "--lr", "0.01", "--lrs", "0.01,0.02", "--out", path.join(dir, "h")), /--lr and --lrs exclude each other/);
    expectBadInput(await cli("compare", "--recipe", "mqar", "--lrs", "0.01,fast", "--out", path.join(dir, "i")), /--lrs must be a comma-separated list of numbers, got '0.01,fast'/);
    expectBadInput(await cli("compare", "--recipe", "mqar", "--lrs", "0.01,1e-2", "--out", path.join(dir, "j")), /--lrs lists the learning rate 1e-2 twice/);
    expectBadInput(await cli("compare", "--recipe", "mqar", "--lrs=0.01,-1", "--out", path.join(dir, "k")), /--lrs.*-1/);
    expectBadInput(await cli("compare", "--recipe", "mqar", "--lrs=0.01,20", "--out", path.join(dir, "l")), /--lrs.*20/);
    expectBadInput(await cli("train", "--preset", "dense", "--task", "mqar", "--backend", "tpu"), /backend must be one of 'cpu', 'wasm', 'webgpu'/);
    expectBadInput(await cli("bench", "--filter", "no-such-benchmark", "--out", path.join(dir, "e")), /--filter: no benchmark matches 'no-such-benchmark'/);
    for (const x of ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"]) expect(existsSync(path.join(dir, x))).toBe(false);
  });

  it("rejects malformed specs with the JSON path, and impossible sizes", async () => {
    const dir = await tempDir();
    const notJson = path.join(dir, "broken.json");
    await writeFile(notJson, "{ version: 1");
    expectBadInput(await cli(...trainArgs(notJson, path.join(dir, "a"))), /--spec: '.*broken.json' is not valid JSON/);
    const badHeads = await tinySpecFile(dir, { ...TINY_SPEC, heads: 3 });
    expectBadInput(await cli(...trainArgs(badHeads, path.join(dir, "b"))), /heads/);
    const badKind = await tinySpecFile(dir, { ...TINY_SPEC, attention: { kind: "quantum" } });
    expectBadInput(await cli(...trainArgs(badKind, path.join(dir, "c"))), /spec\.attention\.kind/);
    expectBadInput(await cli(...trainArgs(await tinySpecFile(dir), path.join(dir, "d"), "--task-options", '{"seqLen":16,"numKvPairs":9}')), /numKvPairs/);
    expectBadInput(await cli(...trainArgs(await tinySpecFile(dir), path.join(dir, "e"), "--batch", "0")), /--batch/);
    expectBadInput(await cli(...trainArgs(await tinySpecFile(dir), path.join(dir, "f"), "--batch", "100")), /--batch: 100 is larger than the 64 MQAR training examples/);
    expect(existsSync(path.join(dir, "a"))).toBe(false);
  });

  it("rejects missing run directories and never overwrites a run", async () => {
    const dir = await tempDir();
    expectBadInput(await cli("resume", "--run", path.join(dir, "missing")), /--run: no such directory/);
    expectBadInput(await cli("eval", "--run", dir), /is not a run directory/);
    expectBadInput(await cli("report", "--run", path.join(dir, "missing")), /no such directory/);
    const run = path.join(dir, "run");
    const spec = await tinySpecFile(dir);
    expect((await cli(...trainArgs(spec, run, "--steps", "1"))).code).toBe(0);
    const config = await readFile(path.join(run, CONFIG_FILE), "utf8");
    expectBadInput(await cli(...trainArgs(spec, run, "--steps", "1")), /already holds a run/);
    expect(await readFile(path.join(run, CONFIG_FILE), "utf8")).toBe(config);
  });

  it("prints one line and exits 2 from the real executable", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", path.resolve(import.meta.dirname, "../src/cli.ts"), "train", "--preset", "nope", "--task", "mqar"], { encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toMatch(/^attnkit-lab: --preset: unknown preset 'nope'/);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });
});
