// Versions recorded in config.json: TF.js and the attnkit packages the lab runs on.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";

const PACKAGES = ["@attnkit/core", "@attnkit/models", "@attnkit/datasets", "@attnkit/hybrid-attention", "@attnkit/landmark", "@attnkit/moe-routing", "@attnkit/routing-attention", "@attnkit/temperature-softmax"];

function packageVersion(require: NodeJS.Require, name: string): string | null {
  try {
    // The entry point sits in dist/ (or src/) under the package folder.
    let dir = path.dirname(require.resolve(name));
    for (let i = 0; i < 3; i++, dir = path.dirname(dir)) {
      try {
        const pkg = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as { name?: string; version?: string };
        if (pkg.name === name) return pkg.version ?? null;
      } catch {
        // not this folder
      }
    }
  } catch {
    // not installed
  }
  return null;
}

export function versions(): Record<string, string> {
  const require = createRequire(import.meta.url);
  const out: Record<string, string> = { node: process.versions.node, "@tensorflow/tfjs": tf.version.tfjs };
  for (const name of PACKAGES) {
    const v = packageVersion(require, name);
    if (v) out[name] = v;
  }
  return out;
}
