// Escaping for every piece of user-controlled text (run names, spec names, metric names, notes) that
// reaches report.html or summary.md.

const HTML_ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Text or attribute value for HTML. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ENTITIES[c] ?? c);
}

/**
 * JSON for a `<script type="application/json">` block: `<` is written as `\u003c` so no value can close
 * the block (`</script>`) or open a comment; U+2028/2029 likewise, for older JSON-in-JS readers.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/** Inline Markdown text: Markdown punctuation and HTML are backslash-escaped, line breaks become spaces. */
export function escapeMarkdown(text: string): string {
  return text.replace(/\r?\n/g, " ").replace(/[\\`*_[\]<>|#~]/g, (c) => `\\${c}`);
}
