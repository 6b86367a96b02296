// The learning rate at each step: linear warm-up, then cosine decay to a tenth of the peak (Zoology
// trains with a cosine schedule). A pure function of the step, so a resumed run gets the same rates.
import type { TrainOptions } from "../run-files";

export const MIN_LR_FRACTION = 0.1;

export function warmupSteps(train: TrainOptions): number {
  return train.warmup ?? Math.min(100, Math.round(0.1 * train.steps));
}

/** The rate used for step `step` (0-based). */
export function learningRate(train: TrainOptions, step: number): number {
  const warmup = warmupSteps(train);
  if (step < warmup) return (train.lr * (step + 1)) / warmup;
  const span = Math.max(1, train.steps - warmup);
  const progress = Math.min(1, (step - warmup) / span);
  const floor = train.lr * MIN_LR_FRACTION;
  return floor + (train.lr - floor) * 0.5 * (1 + Math.cos(Math.PI * progress));
}
