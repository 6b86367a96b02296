import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OptionError } from "@attnkit/core";
import { renderReport, writeReport } from "../src/report/index";
import { formatNumber } from "../src/report/format";
import type { ChartSpec, ReportInput } from "../src/report/types";
import type { ModelSpec } from "@attnkit/models";
import { REPORT_HTML, SUMMARY_MD, type EvalRow, type RunRecord, type TrainRow } from "../src/run-files";
import { runRecord } from "./lab-helpers";

const LENGTHS = [64, 256, 1024];

function trainRows(scale: number, steps: number): TrainRow[] {
  return Array.from({ length: steps }, (_, i) => ({
    kind: "train",
    step: i + 1,
    loss: scale * Math.exp(-i / 4) + 0.01 * (i % 3),
    lr: 1e-3,
    tokensPerSec: 1000 + 37 * ((i * 7) % 5),
    elapsedMs: 123.4 * (i + 1),
  }));
}

function evalRows(name: string, step: number, lengths: number[], base: number): EvalRow[] {
  return lengths.map((length, i) => ({ kind: "eval", step, length, metrics: { loss: base + i * 0.37, accuracy: 1 / (i + 2 + base) } }));
}

function run(name: string, train: TrainRow[], evals: EvalRow[]): RunRecord {
  return runRecord(name, {
    spec: { family: "decoder" } as unknown as ModelSpec,
    train,
    evals,
    config: {
      train: { steps: train.length, batch: 8, lr: 1e-3, seed: 1, evalEvery: 10, checkpointEvery: 0 },
      backend: { name: "wasm", hardware: false, note: "software WebGPU adapter skipped" },
      versions: { "@tensorflow/tfjs": "4.22.0", "@attnkit/models": "0.1.0" },
      recipe: "mqar",
    },
  });
}

const softmax = run("softmax", trainRows(4, 30), [...evalRows("softmax", 10, [64], 2.5), ...evalRows("softmax", 20, [64], 1.5), ...evalRows("softmax", 30, LENGTHS, 0.5)]);
const linear = run("linear", trainRows(5, 30), [...evalRows("linear", 10, [64], 3), ...evalRows("linear", 30, LENGTHS, 1.25)]);

const recipeChart: ChartSpec = {
  title: "Routing map",
  kind: "heatmap",
  data: [
    { query: "q0", key: "k0", weight: 0.75 },
    { query: "q0", key: "k1", weight: 0.25 },
    { query: "q1", key: "k0", weight: 0.125 },
    { query: "q1", key: "k1", weight: 0.875 },
  ],
  x: "key",
  y: "query",
  value: "weight",
};

const input: ReportInput = {
  title: "MQAR: softmax vs linear",
  description: "Zoology's multi-query associative recall.\n\nReduced sizes.",
  runs: [softmax, linear],
  claim: { claim: "linear < softmax on recall", holds: true, detail: "accuracy 0.4 vs 0.3 at length 64" },
  tables: [{ title: "Recall gap", columns: ["model", "gap", "note"], rows: [["linear", 0.123456789, null], ["softmax", 0, "baseline"]], note: "gap = softmax − model" }],
  charts: [recipeChart],
  notes: ["Seeds 1 only."],
  environment: { "wall time": "12 s" },
  parameters: { softmax: 123456, linear: 120000 },
};

/** The JSON each chart embeds next to its SVG, in page order. */
function chartData(html: string): ChartSpec[] {
  return [...html.matchAll(/<script type="application\/json" class="chart-data">(.*?)<\/script>/gs)].map((m) => JSON.parse(m[1] as string) as ChartSpec);
}

/** A table's body cells as the exact numbers (data-value) or the shown text, found by caption. */
function htmlTable(html: string, caption: string): { columns: string[]; rows: (string | number)[][] } {
  const start = html.indexOf(`<caption>${caption}</caption>`);
  expect(start, `table "${caption}"`).toBeGreaterThan(-1);
  const body = html.slice(start, html.indexOf("</table>", start));
  const columns = [...body.matchAll(/<th scope="col">(.*?)<\/th>/g)].map((m) => m[1] as string);
  const rows = [...body.slice(body.indexOf("<tbody>")).matchAll(/<tr>(.*?)<\/tr>/g)].map((tr) =>
    [...(tr[1] as string).matchAll(/<td[^>]*?(?: data-value="([^"]*)")?>(.*?)<\/td>/g)].map((td) => (td[1] !== undefined ? Number(td[1]) : (td[2] as string))),
  );
  return { columns, rows };
}

const finalAt = (r: RunRecord, length: number) => r.evals.find((e) => e.step === 30 && e.length === length) as EvalRow;
const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  return (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

describe("renderReport", () => {
  let html: string;
  let markdown: string;
  const before = structuredClone(input);
  beforeAll(async () => {
    ({ html, markdown } = await renderReport(input));
  });

  it("leaves its input as it was", () => {
    expect(input).toEqual(before);
  });

  it("draws every default and recipe chart as inline SVG", () => {
    const titles = chartData(html).map((c) => c.title);
    expect(titles).toEqual(["Training loss", "accuracy vs length", "accuracy during training (length 64)", "Final accuracy", "Final loss", "Routing map"]);
    const figures = [...html.matchAll(/<figure class="chart" id="chart-\d+">\s*<figcaption>.*?<\/figcaption>\s*<svg [^]*?<\/svg>/g)];
    expect(figures).toHaveLength(titles.length);
    expect(html).toMatch(/class="mark-line[^"]*"/);
    expect(html).toMatch(/class="mark-rect[^"]*"/);
    // The legend names the runs; gradient/clip ids stay unique across the inline SVGs.
    expect(html).toContain(">softmax</text>");
    const ids = [...html.matchAll(/\bid="([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("embeds each chart's data, equal to the runs' numbers", () => {
    const [loss, vsLength, progress, finalAccuracy, , routing] = chartData(html);
    expect(loss?.data).toEqual([softmax, linear].flatMap((r) => r.train.map((t) => ({ run: r.name, step: t.step, loss: t.loss }))));
    expect(loss?.yScale).toBe("log");
    expect(vsLength?.data).toEqual(
      [softmax, linear].flatMap((r) => LENGTHS.map((length) => ({ run: r.name, series: r.name, length, variant: null, value: finalAt(r, length).metrics.accuracy }))),
    );
    expect(vsLength?.xScale).toBe("log");
    // A log axis over few values ticks exactly at the evaluated lengths.
    const lengthSvg = html.slice(html.indexOf('id="chart-2"'), html.indexOf('id="chart-3"'));
    const ticks = [...lengthSvg.matchAll(/role-axis-label[^]*?<\/g>/g)][0]?.[0] ?? "";
    expect([...ticks.matchAll(/>(\d+)<\/text>/g)].map((m) => Number(m[1]))).toEqual(LENGTHS);
    // One line per run: the length evaluated at most steps (the quick evaluations' 64).
    expect(progress?.data).toEqual(
      [softmax, linear].flatMap((r) => r.evals.filter((e) => e.length === 64).map((e) => ({ run: r.name, series: r.name, step: e.step, value: e.metrics.accuracy }))),
    );
    expect(finalAccuracy?.color).toBe("group");
    expect(finalAccuracy?.data).toContainEqual({ run: "linear", group: "length 1024", value: finalAt(linear, 1024).metrics.accuracy });
    expect(routing).toEqual(recipeChart);
  });

  it("puts the exact numbers in the results, evaluation and recipe tables", () => {
    const results = htmlTable(html, "Results");
    expect(results.columns).toEqual(["run", "task", "steps", "wall time (s)", "tokens/s", "parameters", "final train loss", "accuracy @ 64", "accuracy @ 256", "accuracy @ 1024"]);
    for (const [i, r] of [softmax, linear].entries()) {
      const last = r.train.at(-1) as TrainRow;
      expect(results.rows[i]).toEqual([
        r.name, "mqar", 30, last.elapsedMs / 1000, median(r.train.map((t) => t.tokensPerSec)), input.parameters?.[r.name],
        last.loss, ...LENGTHS.map((length) => finalAt(r, length).metrics.accuracy),
      ]);
    }
    const evaluation = htmlTable(html, "Evaluation");
    expect(evaluation.columns).toEqual(["run", "length", "accuracy", "loss"]);
    expect(evaluation.rows[4]).toEqual(["linear", 256, finalAt(linear, 256).metrics.accuracy, finalAt(linear, 256).metrics.loss]);
    expect(htmlTable(html, "Recall gap").rows).toEqual([["linear", 0.123456789, "–"], ["softmax", 0, "baseline"]]);
    // Shown rounded, kept exact.
    expect(html).toContain(`<td class="num" data-value="0.123456789">0.1235</td>`);
  });

  it("shows the claim, environment and notes", () => {
    expect(html).toMatch(/<div class="claim holds">[^]*Verdict: <span class="verdict">holds<\/span>[^]*accuracy 0\.4 vs 0\.3 at length 64/);
    expect(html).toContain("<tr><th scope=\"row\">wall time</th><td>12 s</td></tr>");
    expect(html).toContain("<td>wasm (software WebGPU adapter skipped)</td>");
    expect(html).toContain("@tensorflow/tfjs 4.22.0, @attnkit/models 0.1.0");
    expect(html).toContain("<li>Seeds 1 only.</li>");
    expect(html).not.toMatch(/<script(?![^>]*type="application\/json")/);
    expect(html).not.toMatch(/\b(src|href)="(https?:)?\/\//);
  });

  it("writes summary.md with the results table first", () => {
    const lines = markdown.split("\n");
    expect(lines[0]).toBe("## MQAR: softmax vs linear");
    expect(lines.slice(2, 5)).toEqual([
      "**Results**",
      "",
      "| run | task | steps | wall time (s) | tokens/s | parameters | final train loss | accuracy @ 64 | accuracy @ 256 | accuracy @ 1024 |",
    ]);
    expect(lines[5]).toBe("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    const last = softmax.train.at(-1) as TrainRow;
    const cells = [30, last.elapsedMs / 1000, median(softmax.train.map((t) => t.tokensPerSec)), 123456, last.loss, ...LENGTHS.map((l) => finalAt(softmax, l).metrics.accuracy as number)];
    expect(lines[6]).toBe(`| softmax | mqar | ${cells.map(formatNumber).join(" | ")} |`);
    expect(markdown).toContain("**Verdict: holds.** accuracy 0.4 vs 0.3 at length 64");
    expect(markdown).toContain("| linear | 0.1235 | – |");
    expect(markdown).toContain(`- [Routing map](${REPORT_HTML}#chart-6)`);
    expect(markdown.indexOf("**Results**")).toBeLessThan(markdown.indexOf("**Claim:**"));
  });
});

describe("renderReport escaping", () => {
  it("escapes names, titles and cells in HTML, JSON and Markdown", async () => {
    const evil = `<img src=x onerror=alert(1)>`;
    const closer = `</script><script>alert(1)</script>`;
    const { html, markdown } = await renderReport({
      title: `T ${evil}`,
      runs: [run(evil, trainRows(2, 3), evalRows(evil, 3, [64], 1))],
      tables: [{ title: closer, columns: ["a|b", "<b>"], rows: [["x | y", `"q" & 'r'`]] }],
      charts: [{ title: closer, kind: "bar", data: [{ name: evil, v: 1 }], x: "name", y: "v" }],
      notes: [evil],
    });
    expect(html).not.toContain("<img");
    expect(html).not.toContain("<script>");
    expect(html).not.toContain("<b>");
    expect(html).toContain("&lt;img src=x onerror=alert(1)&gt;");
    expect(html).toContain("<td>&quot;q&quot; &amp; &#39;r&#39;</td>");
    expect(chartData(html).at(-1)).toEqual({ title: closer, kind: "bar", data: [{ name: evil, v: 1 }], x: "name", y: "v" });
    expect(chartData(html)[0]?.data[0]?.run).toBe(evil);
    expect(markdown).toContain("\\<img src=x onerror=alert(1)\\>");
    expect(markdown).toContain("| a\\|b | \\<b\\> |");
    expect(markdown).toContain("| x \\| y |");
  });
});

describe("renderReport edge inputs", () => {
  it("renders a run without evaluations or training rows, and no runs at all", async () => {
    const untrained = run("untrained", [], []);
    const gpu = { name: "webgpu", adapter: "NVIDIA H200", hardware: true };
    const { html, markdown } = await renderReport({ title: "Nothing yet", runs: [{ ...untrained, config: { ...untrained.config, backend: gpu } }] });
    expect(html).toContain("<td>webgpu, adapter NVIDIA H200, hardware</td>");
    expect(htmlTable(html, "Results").rows).toEqual([["untrained", "mqar", "–", "–", "–", "–"]]);
    expect(chartData(html)).toEqual([]);
    expect(markdown).toContain("| untrained | mqar | – | – | – | – |");
    const empty = await renderReport({ title: "Empty", runs: [], charts: [{ title: "No points", kind: "line", data: [], x: "a", y: "b" }] });
    expect(empty.html).toContain("<figcaption>No points</figcaption>\n<p class=\"note\">No data.</p>");
  });

  it("labels a claim that does not hold and one left open", async () => {
    const render = (holds: boolean | null) => renderReport({ title: "C", runs: [], claim: { claim: "c", holds, detail: "d" } });
    const fails = await render(false);
    expect(fails.html).toContain(`<div class="claim fails">`);
    expect(fails.html).toContain(`<span class="verdict">does not hold</span>`);
    expect(fails.markdown).toContain("**Verdict: does not hold.** d");
    expect((await render(null)).markdown).toContain("**Verdict: inconclusive.** d");
  });

  it("with one length only: no length chart, metrics as columns", async () => {
    const one = run("one", trainRows(1, 5), evalRows("one", 5, [64], 0.5));
    const noEvals = run("no-evals", trainRows(1, 5), []);
    const { html } = await renderReport({ title: "One length", runs: [one, noEvals] });
    expect(chartData(html).map((c) => c.title)).toEqual(["Training loss", "Final accuracy", "Final loss"]);
    expect(chartData(html)[0]?.yScale).toBe("linear");
    const results = htmlTable(html, "Results");
    expect(results.columns.slice(-2)).toEqual(["accuracy (length 64)", "loss (length 64)"]);
    expect(results.rows[1]?.slice(-2)).toEqual(["–", "–"]);
    expect(html).not.toContain("<caption>Evaluation</caption>");
  });

  it("keeps runs evaluated at different single lengths in separate columns", async () => {
    const short = run("short", trainRows(1, 5), evalRows("short", 5, [64], 0.5));
    const long = run("long", trainRows(1, 5), evalRows("long", 5, [256], 0.25));
    const { html } = await renderReport({ title: "Apart", runs: [short, long] });
    const results = htmlTable(html, "Results");
    expect(results.columns.slice(-2)).toEqual(["accuracy @ 64", "accuracy @ 256"]);
    expect(results.rows.map((row) => row.slice(-2))).toEqual([[short.evals[0]?.metrics.accuracy, "–"], ["–", long.evals[0]?.metrics.accuracy]]);
    expect(htmlTable(html, "Evaluation").rows).toHaveLength(2);
  });

  it("headlines the metric asked for and rejects one no run reports", async () => {
    const { html } = await renderReport({ ...input, charts: [], mainMetric: "loss" });
    expect(chartData(html).map((c) => c.title).slice(1, 3)).toEqual(["loss vs length", "loss during training (length 64)"]);
    await expect(renderReport({ ...input, mainMetric: "bleu" })).rejects.toThrow(/mainMetric "bleu" .*loss, accuracy/);
  });

  it("rejects bad charts, tables and runs with one line naming the entry", async () => {
    const bad = (patch: Partial<ReportInput>) => renderReport({ ...input, ...patch });
    await expect(bad({ charts: [{ ...recipeChart, kind: "pie" as "bar" }] })).rejects.toThrow(OptionError);
    await expect(bad({ charts: [{ ...recipeChart, kind: "pie" as "bar" }] })).rejects.toThrow(/charts\[0\] \("Routing map"\): kind "pie"/);
    await expect(bad({ charts: [{ ...recipeChart, value: "missing" }] })).rejects.toThrow(/no data row has the field "missing"/);
    await expect(bad({ charts: [{ ...recipeChart, value: undefined as unknown as string, color: undefined as unknown as string }] })).rejects.toThrow(/heatmap needs a value/);
    await expect(bad({ tables: [{ title: "T", columns: ["a", "b"], rows: [[1]] }] })).rejects.toThrow(/tables\[0\] \("T"\): row 0 has 1 cells for 2 columns/);
    await expect(bad({ runs: [softmax, softmax] })).rejects.toThrow(/runs\[1\] repeats the name "softmax"/);
    const noBackend = { ...linear, config: { ...linear.config, backend: undefined as unknown as RunRecord["config"]["backend"] } };
    await expect(bad({ runs: [softmax, noBackend] })).rejects.toThrow(/runs\[1\] \("linear"\) needs a config with task.name and backend.name/);
    await expect(bad({ title: "" })).rejects.toThrow(/title/);
  });

  it("reads dotted field names as flat fields", async () => {
    const { html } = await renderReport({ title: "Dots", runs: [], charts: [{ title: "d", kind: "point", data: [{ "acc.top1": 0.5, "len[0]": 3 }], x: "len[0]", y: "acc.top1" }] });
    expect(html).toContain(`aria-label="len[0]: 3; acc.top1: 0.5"`);
  });
});

describe("formatNumber", () => {
  it("keeps integers exact and four significant digits otherwise", () => {
    expect([123456, 0.123456789, 1234.56, 1.23456e-7, Number.NaN, Number.POSITIVE_INFINITY, -0.5].map(formatNumber)).toEqual(["123456", "0.1235", "1235", "1.235e-7", "NaN", "∞", "-0.5"]);
  });
});

describe("writeReport", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "attnkit-report-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("replaces older report files whole and leaves no temporary files", async () => {
    await writeFile(path.join(dir, REPORT_HTML), "old html");
    await writeFile(path.join(dir, SUMMARY_MD), "old md");
    const out = await writeReport(dir, input);
    expect(await readFile(path.join(dir, REPORT_HTML), "utf8")).toBe(out.html);
    expect(await readFile(path.join(dir, SUMMARY_MD), "utf8")).toBe(out.markdown);
    expect((await readdir(dir)).sort()).toEqual([REPORT_HTML, SUMMARY_MD]);
  });

  it("leaves the old files when rendering fails", async () => {
    await expect(writeReport(dir, { ...input, mainMetric: "bleu" })).rejects.toThrow(OptionError);
    const html = await readFile(path.join(dir, REPORT_HTML), "utf8");
    expect(html).toContain("<caption>Results</caption>");
    expect((await readdir(dir)).sort()).toEqual([REPORT_HTML, SUMMARY_MD]);
  });

  it("cleans up its temporary files when a rename fails", async () => {
    const blocked = path.join(dir, "blocked");
    await mkdir(path.join(blocked, REPORT_HTML, "inside"), { recursive: true });
    await writeFile(path.join(blocked, SUMMARY_MD), "old md");
    await expect(writeReport(blocked, input)).rejects.toThrow();
    expect((await readdir(blocked)).sort()).toEqual([REPORT_HTML, SUMMARY_MD]);
    expect(await readFile(path.join(blocked, SUMMARY_MD), "utf8")).toBe("old md");
  });
});
