import DefaultTheme from "vitepress/theme";
import type { Theme } from "vitepress";
import LiveExample from "./LiveExample.vue";
import BenchTable from "./BenchTable.vue";

export default {
  extends: DefaultTheme,
  enhanceApp({ app }) {
    app.component("LiveExample", LiveExample);
    app.component("BenchTable", BenchTable);
  },
} satisfies Theme;
