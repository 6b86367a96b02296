// Where outputs go without --out: lab-runs/ in the lab package (its .gitignore keeps them out of git),
// one folder per invocation named after what ran and when.
import path from "node:path";
import { fileURLToPath } from "node:url";

export function timestamp(date = new Date()): string {
  return date.toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
}

export function defaultOutDir(name: string): string {
  // This file is bundled into dist/cli.js or run from src/engine/: the package folder is one or two up.
  const here = path.dirname(fileURLToPath(import.meta.url));
  const pkg = path.basename(here) === "engine" ? path.resolve(here, "..", "..") : path.resolve(here, "..");
  return path.join(pkg, "lab-runs", `${name}-${timestamp()}`);
}
