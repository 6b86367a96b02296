// Placeholder until the recipes land.
import type { Recipe } from "./recipe";

export const mobyDickRecipe = undefined as unknown as Recipe;
