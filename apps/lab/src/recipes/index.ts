// The recipe registry: `compare --recipe NAME`.
import { OptionError } from "@attnkit/core";
import { collapseRecipe } from "./collapse";
import { mnistRecipe } from "./mnist";
import { mobyDickRecipe } from "./moby-dick";
import { mqarRecipe } from "./mqar";
import { passkeyRecipe } from "./passkey";
import type { Recipe } from "./recipe";

export const recipes: Readonly<Record<string, Recipe>> = {
  mqar: mqarRecipe,
  passkey: passkeyRecipe,
  mnist: mnistRecipe,
  "moby-dick": mobyDickRecipe,
  collapse: collapseRecipe,
};

export function getRecipe(name: string): Recipe {
  const recipe = recipes[name];
  if (!recipe) throw new OptionError(`unknown recipe "${name}"; known recipes: ${Object.keys(recipes).join(", ")}`);
  return recipe;
}
