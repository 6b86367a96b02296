// Data packages are optional peers: they load on first use, so a user who never touches a corpus never
// installs it. The import specifiers stay literal so bundlers can still find them.
import { AttnkitError } from "@attnkit/core";

/** The CommonJS export of a dynamically imported package, whatever interop wrapped it. */
export function commonjsExport<T>(mod: unknown): T {
  const m = mod as { default?: unknown };
  return (m && typeof m === "object" && "default" in m && m.default !== undefined ? m.default : mod) as T;
}

export function missingPackage(fn: string, pkg: string, cause: unknown): AttnkitError {
  const err = new AttnkitError(`${fn}: the optional package '${pkg}' could not be loaded (install it with \`npm install ${pkg}\`): ${String(cause)}`);
  (err as { cause?: unknown }).cause = cause;
  return err;
}
