// Vega-Lite spec → static SVG, rendered in Node without a browser or canvas.
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

/**
 * Several SVGs inline in one page share one id namespace: gradient and clip ids (`gradient_0`) get a
 * per-chart prefix so one chart's legend never paints with another chart's gradient.
 */
function prefixIds(svg: string, prefix: string): string {
  return svg
    .replace(/\bid="([^"]+)"/g, (_, id: string) => `id="${prefix}${id}"`)
    .replace(/url\(#([^)]+)\)/g, (_, id: string) => `url(#${prefix}${id})`)
    .replace(/href="#([^"]+)"/g, (_, id: string) => `href="#${prefix}${id}"`);
}

export async function renderSvg(spec: TopLevelSpec, idPrefix: string): Promise<string> {
  // Warnings (e.g. a log scale dropping zeros) are not the reader's business; errors still throw.
  const logger = vega.logger(vega.Error);
  const view = new vega.View(vega.parse(compile(spec, { logger }).spec), { renderer: "none", logger });
  try {
    return prefixIds(await view.toSVG(), idPrefix);
  } finally {
    view.finalize();
  }
}
