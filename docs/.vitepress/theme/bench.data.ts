// Benchmark results the site shows: docs/bench/*.json, a committed snapshot of what `pnpm bench <package>`
// wrote into bench-results/ (refresh with `pnpm run docs bench-snapshot`), read at build time.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";

export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  target?: { min?: number; max?: number };
  passed?: boolean;
}
export interface BenchFile {
  id: string;
  backend: string;
  date: string;
  rows: BenchRow[];
}

const dir = path.resolve(import.meta.dirname, "../../bench");

export default {
  watch: [path.join(dir, "*.json")],
  load(): Record<string, BenchFile> {
    if (!existsSync(dir)) return {};
    const files = readdirSync(dir).filter((f) => f.endsWith(".json"));
    return Object.fromEntries(files.map((f) => [f.slice(0, -5), JSON.parse(readFileSync(path.join(dir, f), "utf8")) as BenchFile]));
  },
};
