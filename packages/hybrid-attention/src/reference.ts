// Float64 host references used by the tests (re-exports of ./reference/*.ts only). Append new export lines.
export * from "./reference/linear";
export * from "./reference/gated-delta";
export * from "./reference/transnormer";
export * from "./reference/still";
export * from "./reference/natsl";
