// Placeholder until the recipes land.
import type { Task } from "./task";

export function createMobyDickTask(): Task {
  throw new Error("task moby-dick is not implemented yet");
}
