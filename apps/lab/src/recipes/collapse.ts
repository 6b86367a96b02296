// Placeholder until the recipes land.
import type { Recipe } from "./recipe";

export const collapseRecipe = undefined as unknown as Recipe;
