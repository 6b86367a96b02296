// Writes files so a reader (or a crash) never sees half of one: each goes to a temporary file in the
// same directory and is renamed over the old one only once every file is fully written.
import { randomBytes } from "node:crypto";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";

export async function writeFilesAtomic(dir: string, files: Record<string, string>): Promise<void> {
  await mkdir(dir, { recursive: true });
  const tag = `${process.pid}-${randomBytes(4).toString("hex")}`;
  const pending = Object.entries(files).map(([name, text]) => ({ text, target: path.join(dir, name), temp: path.join(dir, `.${name}.${tag}.tmp`) }));
  try {
    for (const file of pending) await writeFile(file.temp, file.text);
    for (const file of pending) await rename(file.temp, file.target);
  } finally {
    // After a failure, whatever was not renamed is removed; after success, this finds nothing.
    await Promise.all(pending.map((file) => rm(file.temp, { force: true })));
  }
}
