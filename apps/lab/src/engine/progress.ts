// Training progress: a one-line bar redrawn with \r on a terminal, plain periodic lines otherwise (logs, CI).

export interface ProgressSink {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface ProgressUpdate {
  step: number;
  loss: number;
  tokensPerSec: number;
  /** Wall time of this process's steps so far, for the ETA. */
  elapsedMs: number;
  stepsDone: number;
}

const BAR_WIDTH = 24;
const PLAIN_EVERY_MS = 10_000;

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "?";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

export class Progress {
  private lastPlain = -Infinity;
  private drawn = false;

  constructor(
    private readonly out: ProgressSink,
    private readonly label: string,
    private readonly totalSteps: number,
  ) {}

  update(u: ProgressUpdate): void {
    const remaining = this.totalSteps - u.step;
    const eta = u.stepsDone > 0 ? (u.elapsedMs / u.stepsDone) * remaining : NaN;
    const stats = `step ${u.step}/${this.totalSteps}  loss ${u.loss.toFixed(4)}  ${Math.round(u.tokensPerSec)} tok/s  ETA ${formatDuration(eta)}`;
    if (this.out.isTTY) {
      const filled = Math.round((u.step / this.totalSteps) * BAR_WIDTH);
      this.out.write(`\r${this.label} [${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}] ${stats}\x1b[K`);
      this.drawn = true;
    } else if (u.elapsedMs - this.lastPlain >= PLAIN_EVERY_MS || u.step === this.totalSteps) {
      this.lastPlain = u.elapsedMs;
      this.out.write(`${this.label} ${stats}\n`);
    }
  }

  /** Ends the bar's line so later output starts on a fresh one. */
  done(): void {
    if (this.drawn) this.out.write("\n");
    this.drawn = false;
  }
}
