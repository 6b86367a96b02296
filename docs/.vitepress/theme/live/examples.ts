// The packages' examples, loaded on demand in the browser (never during the server-side render).
// datasets' example is not among them: it loads all of MNIST (20 MB) and two text corpora.
type ExampleModule = Record<string, unknown>;

const modules: Record<string, () => Promise<ExampleModule>> = import.meta.env.SSR
  ? {}
  : import.meta.glob<ExampleModule>(["../../../../packages/*/examples/*.ts", "!../../../../packages/datasets/examples/*.ts"]);

/** "routing-attention/image-routing" → the loader of packages/routing-attention/examples/image-routing.ts. */
export function exampleLoader(name: string): (() => Promise<ExampleModule>) | undefined {
  const [pkg, file] = name.split("/");
  return modules[`../../../../packages/${pkg}/examples/${file}.ts`];
}

export function exampleSource(name: string): string {
  const [pkg, file] = name.split("/");
  return `packages/${pkg}/examples/${file}.ts`;
}
