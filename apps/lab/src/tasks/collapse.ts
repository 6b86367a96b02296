// Placeholder until the recipes land.
import type { Task } from "./task";

export function createCollapseTask(): Task {
  throw new Error("task collapse is not implemented yet");
}
