// A learning-rate sweep inside a comparison (Zoology's protocol: each model trained at every rate of a
// grid, the best one reported). Each (model, rate) is an ordinary run directory named `<model>@<rate>`;
// a rate whose loss diverged is an outcome of the sweep, not a failure, as long as another rate of the
// same model finished. Without a sweep a model has one run, named after the model.
import { assertNumber, OptionError } from "@attnkit/core";
import type { ReportTable } from "../report/types";
import type { RunRecord } from "../run-files";

/** 0.003 → "3e-3", 0.0005 → "5e-4": short, exact and safe in a directory name. */
export function formatLr(lr: number): string {
  return lr.toExponential().replace("e+", "e");
}

export function sweepRunName(model: string, lr: number): string {
  return `${model}@${formatLr(lr)}`;
}

/** Parses `--lrs 1e-3,3e-3,1e-2`: positive numbers ≤ 10 (as --lr), no repeats. */
export function parseLrs(flag: string, value: string): number[] {
  const parts = value.split(",").map((s) => s.trim());
  const lrs = parts.map((s) => {
    const n = Number(s);
    if (s === "" || !Number.isFinite(n)) throw new OptionError(`--${flag} must be a comma-separated list of numbers, got '${value}'`);
    return n;
  });
  checkLrs(flag, lrs);
  return lrs;
}

export function checkLrs(flag: string, lrs: number[]): void {
  if (lrs.length === 0) throw new OptionError(`--${flag} must list at least one learning rate`);
  for (const lr of lrs) assertNumber("compare", `--${flag}`, lr, { min: 0, minExclusive: true, max: 10 });
  const names = lrs.map(formatLr);
  const repeated = names.find((n, i) => names.indexOf(n) !== i);
  if (repeated !== undefined) throw new OptionError(`--${flag} lists the learning rate ${repeated} twice`);
}

/** The run has its final evaluation. */
export function finished(run: RunRecord): boolean {
  return run.evals.some((e) => e.step === run.config.train.steps);
}

/** A run that stopped on a NaN or infinite training loss: no final evaluation, last logged loss not finite. */
export function diverged(run: RunRecord): { step: number } | null {
  const last = run.train.at(-1);
  if (finished(run) || !last || Number.isFinite(last.loss)) return null;
  return { step: last.step };
}

/** What a sweep ranks the rates of a model by (of a finished run; null when there is nothing to rank). */
export interface SweepScore {
  name: string;
  better: "higher" | "lower";
  of(run: RunRecord): number | null;
}

/** The score of a sweep whose recipe defines none: the mean training loss over the last tenth of the logged steps. */
export const lateTrainingLoss: SweepScore = {
  name: "mean training loss over the last tenth of the steps",
  better: "lower",
  of(run) {
    const rows = run.train;
    if (rows.length === 0) return null;
    const tail = rows.slice(-Math.max(1, Math.ceil(rows.length / 10)));
    return tail.reduce((s, r) => s + r.loss, 0) / tail.length;
  },
};

export interface SweptModel {
  model: string;
  /** One run per rate, in the sweep's order. */
  runs: { lr: number; run: RunRecord }[];
}

/** The best finished run of a model by `score` (ties: the first rate), renamed to the model; null if none finished. */
export function bestRun(swept: SweptModel, score: SweepScore): { lr: number; run: RunRecord } | null {
  const sign = score.better === "higher" ? 1 : -1;
  let best: { lr: number; run: RunRecord; score: number } | null = null;
  for (const { lr, run } of swept.runs) {
    const value = finished(run) ? score.of(run) : null;
    if (value === null || !Number.isFinite(value)) continue;
    if (best === null || sign * value > best.score) best = { lr, run, score: sign * value };
  }
  return best && { lr: best.lr, run: { ...best.run, name: swept.model } };
}

/** One row per model: its score at each rate ("diverged at step N" where it diverged) and the rate kept. */
export function sweepTable(models: SweptModel[], score: SweepScore): ReportTable {
  const lrs = [...new Set(models.flatMap((m) => m.runs.map((r) => r.lr)))];
  return {
    title: `Learning-rate sweep: ${score.name} (${score.better} is better) at each rate; each model is reported at its best`,
    columns: ["model", ...lrs.map((lr) => `lr ${formatLr(lr)}`), "kept"],
    rows: models.map((m) => {
      const cells = lrs.map((lr) => {
        const run = m.runs.find((r) => r.lr === lr)?.run;
        if (!run) return null;
        const d = diverged(run);
        if (d) return `diverged at step ${d.step}`;
        return finished(run) ? score.of(run) : "unfinished";
      });
      const best = bestRun(m, score);
      return [m.model, ...cells, best ? formatLr(best.lr) : "none finished"];
    }),
  };
}
