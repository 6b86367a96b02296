// Placeholder until the recipes land.
import type { Recipe } from "./recipe";

export const passkeyRecipe = undefined as unknown as Recipe;
