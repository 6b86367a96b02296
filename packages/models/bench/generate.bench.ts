// Generation with the blocks' caches against recomputing the full forward pass for every token, side by
// side in one process on wasm (the dense preset's cache is a KV cache around core's
// scaledDotProductAttention; Gated DeltaNet's is its recurrent state). Target (ours, the issue sets
// none): with a 96-token prompt and 32 new tokens, the cache is at least 2× faster for both.
import { BenchReport, setupBench } from "@attnkit/bench";
import { defineModel, generate, preset, type PresetName } from "../src/index";

const backend = await setupBench("wasm");
const report = new BenchReport("models-generate", backend);
const PROMPT = 96;
const NEW = 32;

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

for (const name of ["dense", "gated-deltanet"] as PresetName[]) {
  const model = defineModel(preset(name, { seed: 1 }));
  const prompt = Array.from({ length: PROMPT }, (_, i) => (i * 37) % 256);
  const cached = () => generate(model, prompt, { maxTokens: NEW });
  const full = () => generate(model, prompt, { maxTokens: NEW, useCache: false });
  await cached();
  await full();
  // Alternate the two so a change of machine load does not skew the ratio (the CPU is shared).
  const tc: number[] = [];
  const tf: number[] = [];
  for (let i = 0; i < 3; i++) {
    tc.push(await time(cached));
    tf.push(await time(full));
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[1]!;
  report.add(`${name}: cached, ms per new token`, median(tc) / NEW, "ms");
  report.add(`${name}: full recompute, ms per new token`, median(tf) / NEW, "ms");
  report.ratio(`${name}: cache speed-up`, median(tf) / median(tc), { min: 2 });
  model.dispose();
}
report.finish();
