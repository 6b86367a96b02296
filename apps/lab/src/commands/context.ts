// What every command gets: where to print, and the stop flag Ctrl-C sets.
import type { ProgressSink } from "../engine/progress";
import type { StopSignal } from "../engine/train";

export interface Output {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface CommandContext {
  out: Output & ProgressSink;
  stop: StopSignal;
  /** Hidden `--stop-after N`: stop like Ctrl-C after N steps (tests). */
  stopAfter?: number;
}

/** Exit status: 0 done, 1 a benchmark missed its target, 2 bad input, 3 a training loss became NaN or
 * infinite, 130 interrupted (checkpoint written). */
export type ExitCode = number;

export const EXIT_DIVERGED = 3;
export const EXIT_INTERRUPTED = 130;

export function say(ctx: CommandContext, line: string): void {
  ctx.out.write(`${line}\n`);
}

export function interrupted(ctx: CommandContext, dir: string, step: number): ExitCode {
  say(ctx, `interrupted at step ${step}; checkpoint written. Continue with: attnkit-lab resume --run ${dir}`);
  return EXIT_INTERRUPTED;
}
