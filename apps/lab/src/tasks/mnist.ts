// Placeholder until the recipes land.
import type { Task } from "./task";

export function createMnistTask(): Task {
  throw new Error("task mnist is not implemented yet");
}
