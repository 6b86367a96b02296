import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import {
  backendTolerance,
  checkGradients,
  describeBackends,
  expectClose,
  expectNoLeaks,
  fc,
  loadFixture,
  randomPair,
  toHost,
  toTensor,
  type FixtureTensor,
} from "@attnkit/testing";
import { OptionError, ShapeError } from "@attnkit/core";
import { npMap } from "../src/ops/np-map";
import { referenceNpMap } from "../src/reference/still";

interface Case {
  name: string;
  inputs: Record<string, FixtureTensor>;
  expected: Record<string, FixtureTensor>;
  tolerance: { atol: number; rtol: number };
}
const cases = loadFixture<{ cases: Case[] }>(new URL("./fixtures/np_map.json", import.meta.url)).cases;

describeBackends("npMap", (backend) => {
  const tol = backendTolerance(backend, { atol: 1e-5, rtol: 1e-4 });

  for (const c of cases) {
    it(`matches fixture ${c.name}`, async () => {
      const x = toTensor(c.inputs.x!);
      const weight = c.inputs.weight ? toTensor(c.inputs.weight) : undefined;
      const phi = npMap(x, weight ? { weight } : {});
      await expectClose(phi, toHost(c.expected.phi!), backendTolerance(backend, c.tolerance));
      tf.dispose([x, phi, ...(weight ? [weight] : [])]);
    });
  }

  it("matches the reference with Householder and weight on random shapes", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({ b: fc.integer({ min: 1, max: 2 }), h: fc.integer({ min: 1, max: 3 }), t: fc.integer({ min: 1, max: 7 }), d: fc.integer({ min: 1, max: 6 }), f: fc.integer({ min: 1, max: 5 }), seed: fc.integer({ min: 1, max: 1000 }) }),
        async ({ b, h, t, d, f, seed }) => {
          const x = randomPair([b, h, t, d], seed, 2);
          const w = randomPair([h, d, f], seed + 1);
          const hh = randomPair([h, d], seed + 2);
          const phi = npMap(x.tensor, { weight: w.tensor, householder: hh.tensor });
          await expectClose(phi, referenceNpMap(x.host, { weight: w.host, householder: hh.host }), tol);
          tf.dispose([x.tensor, w.tensor, hh.tensor, phi]);
        },
      ),
      { numRuns: backend === "webgpu" ? 3 : 10 },
    );
  });

  it("is positive, each half sums to 1, and depends only on the direction of f(x)", async () => {
    const x = randomPair([1, 2, 5, 4], 3, 2);
    const w = randomPair([2, 4, 3], 4);
    const a = npMap(x.tensor, { weight: w.tensor });
    const scaled = w.tensor.mul(3.5);
    const b = npMap(x.tensor, { weight: scaled });
    await expectClose(b, a, tol);
    const data = await a.data();
    expect(Math.min(...data)).toBeGreaterThan(0);
    const halves = a.reshape([1, 2, 5, 2, 3]).sum(-1);
    await expectClose(halves, new Float32Array(20).fill(1), tol);
    tf.dispose([x.tensor, w.tensor, a, scaled, b, halves]);
  });

  it("has gradients matching finite differences", async () => {
    const x = randomPair([1, 1, 3, 3], 5);
    const w = randomPair([1, 3, 2], 6);
    const hh = randomPair([1, 3], 7);
    await checkGradients((xi, wi, hi) => npMap(xi!, { weight: wi!, householder: hi! }), [x.tensor, w.tensor, hh.tensor], { eps: 1e-2 });
    tf.dispose([x.tensor, w.tensor, hh.tensor]);
  });

  it("leaks no tensors", async () => {
    const x = randomPair([1, 2, 4, 3], 8);
    const w = randomPair([2, 3, 2], 9);
    await expectNoLeaks(() => npMap(x.tensor, { weight: w.tensor }));
    tf.dispose([x.tensor, w.tensor]);
  });

  it("rejects bad input clearly", () => {
    const x = tf.zeros([1, 2, 4, 3]);
    const badW = tf.zeros([2, 4, 2]);
    const badH = tf.zeros([3, 3]);
    expect(() => npMap(tf.zeros([2, 3]) as tf.Tensor)).toThrow(ShapeError);
    expect(() => npMap(x, { weight: badW })).toThrow(/npMap: weight must have shape \[2, 3, f\]/);
    expect(() => npMap(x, { householder: badH })).toThrow(/npMap: householder/);
    expect(() => npMap(x, { eps: -1 })).toThrow(OptionError);
    expect(() => npMap(x, { wieght: badW } as never)).toThrow(/unknown option 'wieght'/);
    tf.dispose([x, badW, badH]);
  });
});
