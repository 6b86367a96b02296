// Browser test of the built site: serves docs/.vitepress/dist on 127.0.0.1, opens every page that has a
// live example in Debian's Chromium (WebGPU through SwiftShader), waits for each example's result, and
// fails on a console error, a page error, a failed or missing result, or when no example ran on webgpu.
// Screenshots go to docs/test-artifacts/. Usage: node docs/test/browser.mjs (after building the site).
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import { serve } from "./serve.mjs";

const docs = path.resolve(import.meta.dirname, "..");
const dist = path.join(docs, ".vitepress/dist");
const artifacts = path.join(docs, "test-artifacts");
const PAGE_TIMEOUT_MS = 150_000;
const ARGS = [
  "--no-sandbox",
  "--enable-unsafe-webgpu",
  "--enable-unsafe-swiftshader",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

/** Pages with live examples, from the markdown sources: { route, examples: [name] }. */
function livePages() {
  const pages = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory() && !["node_modules", "api", "test", "test-artifacts"].includes(entry.name) && !entry.name.startsWith(".")) walk(full);
      else if (entry.name.endsWith(".md") && entry.name !== "README.md") {
        const examples = [...readFileSync(full, "utf8").matchAll(/<LiveExample\s+name="([^"]+)"/g)].map((m) => m[1]);
        const route = "/" + path.relative(docs, full).replace(/\\/g, "/").replace(/(index)?\.md$/, "");
        if (examples.length) pages.push({ route, examples });
      }
    }
  };
  walk(docs);
  return pages.sort((a, b) => a.route.localeCompare(b.route));
}

const t0 = Date.now();
const pages = livePages();
rmSync(artifacts, { recursive: true, force: true });
mkdirSync(artifacts, { recursive: true });
const server = await serve(dist);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: ARGS });
const failures = [];
const results = [];
try {
  for (const { route, examples } of pages) {
    const started = Date.now();
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems = [];
    page.on("console", (msg) => {
      if (msg.type() === "error") problems.push(`console error: ${msg.text()}`);
    });
    page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
    try {
      await page.goto(server.url + route, { waitUntil: "load" });
      const found = await page.$$eval(".live-example", (els) => els.map((e) => e.getAttribute("data-example")));
      for (const name of examples) if (!found.includes(name)) problems.push(`example ${name} is not on the page`);
      await page.waitForFunction(
        () => [...globalThis.document.querySelectorAll(".live-example")].every((e) => ["done", "error"].includes(e.getAttribute("data-status") ?? "")),
        undefined,
        { timeout: PAGE_TIMEOUT_MS, polling: 500 },
      );
    } catch (err) {
      problems.push(`no result within ${PAGE_TIMEOUT_MS / 1000} s: ${err.message.split("\n")[0]}`);
    }
    const states = await page.$$eval(".live-example", (els) =>
      els.map((e) => ({ name: e.getAttribute("data-example"), status: e.getAttribute("data-status"), backend: e.getAttribute("data-backend"), seconds: e.getAttribute("data-seconds") })),
    );
    for (const s of states) {
      if (s.status !== "done") problems.push(`example ${s.name}: ${s.status}`);
      results.push({ route, ...s });
    }
    const slug = route.replace(/^\//, "").replace(/\//g, "-") || "index";
    await page.screenshot({ path: path.join(artifacts, `${slug}.png`), fullPage: true });
    // One picture per example too: its output, backend and visualisation at full resolution.
    for (const element of await page.$$(".live-example")) {
      const name = (await element.getAttribute("data-example")) ?? "example";
      await element.screenshot({ path: path.join(artifacts, `${slug}--${name.replace(/\//g, "-")}.png`) });
    }
    await page.close();
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    const line = states.map((s) => `${s.name}=${s.backend || s.status}${s.seconds ? ` ${s.seconds} s` : ""}`).join(", ");
    console.log(`${problems.length ? "FAIL" : "ok  "} ${route} (${secs} s) ${line}`);
    for (const p of problems) console.log(`     ${p}`);
    failures.push(...problems.map((p) => `${route}: ${p}`));
  }
} finally {
  await browser.close();
  await server.close();
}
const webgpu = results.filter((r) => r.status === "done" && r.backend === "webgpu").length;
if (webgpu === 0) failures.push("no example ran on webgpu (is Chromium started with --enable-unsafe-webgpu?)");
const done = results.filter((r) => r.status === "done").length;
console.log(
  `docs browser test: ${pages.length} pages, ${done}/${results.length} examples ran (${webgpu} on webgpu), ` +
    `${failures.length} failures, ${((Date.now() - t0) / 1000).toFixed(0)} s; screenshots in docs/test-artifacts/`,
);
process.exit(failures.length ? 1 : 0);
