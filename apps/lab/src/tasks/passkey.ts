// Placeholder until the recipes land.
import type { Task } from "./task";

export function createPasskeyTask(): Task {
  throw new Error("task passkey is not implemented yet");
}
