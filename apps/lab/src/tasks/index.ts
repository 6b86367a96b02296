// The task registry: `--task NAME` and recipes create tasks by name.
import { OptionError } from "@attnkit/core";
import { createCollapseTask } from "./collapse";
import { createMnistTask } from "./mnist";
import { createMobyDickTask } from "./moby-dick";
import { createMqarTask } from "./mqar";
import { createPasskeyTask } from "./passkey";
import type { Task, TaskFactory } from "./task";

export const tasks: Readonly<Record<string, TaskFactory>> = {
  mqar: createMqarTask,
  passkey: createPasskeyTask,
  mnist: createMnistTask,
  "moby-dick": createMobyDickTask,
  collapse: createCollapseTask,
};

export function createTask(name: string, options: Record<string, unknown> = {}): Task {
  const factory = tasks[name];
  if (!factory) throw new OptionError(`unknown task "${name}"; known tasks: ${Object.keys(tasks).join(", ")}`);
  return factory(options);
}
