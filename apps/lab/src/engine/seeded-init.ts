// Deterministic weight initialisation. Layers built with a seed use it; TF.js initialisers built without
// one draw their seed from Math.random. Building the model with Math.random replaced by a seeded
// Mulberry32 stream makes every initial weight a function of the run's seed, so two runs with the same
// seed (an uninterrupted one and an interrupted-then-resumed one, or the models of a comparison) start alike.
import { mulberry32 } from "@attnkit/datasets";

export function withSeededRandom<T>(seed: number, build: () => T): T {
  const original = Math.random;
  Math.random = mulberry32(seed);
  try {
    return build();
  } finally {
    Math.random = original;
  }
}
