import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { OptionError } from "@attnkit/core";
import { backendTolerance, checkGradients, describeBackends, expectClose, expectNoLeaks, loadFixture, randomPair, toHost, toNumbers, toTensor, type FixtureTensor } from "@attnkit/testing";
import { alibiSlopes, lrpe, srmsNorm, transnormerDecay } from "../src/index";
import { referenceLrpe, referenceSrmsNorm } from "../src/reference";

interface Case {
  name: string;
  function: string;
  options: { eps?: number; offset?: number; n_heads?: number; n_layers?: number; layer_idx?: number; variant?: "official" | "paper" | "fla" };
  inputs: Record<string, FixtureTensor>;
  expected: Record<string, FixtureTensor>;
  tolerance: { atol: number; rtol: number };
}
const cases = loadFixture<{ cases: Case[] }>(new URL("./fixtures/misc.json", import.meta.url)).cases;

describeBackends("srmsNorm and lrpe", (backend) => {
  for (const c of cases.filter((x) => x.function === "srmsnorm" || x.function === "lrpe")) {
    it(`matches fixture ${c.name}`, async () => {
      const x = toTensor(c.inputs.x!);
      const y = c.function === "srmsnorm" ? srmsNorm(x, { eps: c.options.eps! }) : lrpe(x, { offset: c.options.offset! });
      await expectClose(y, toHost(c.expected.y!), backendTolerance(backend, c.tolerance));
      tf.dispose([x, y]);
    });
  }
  it("equal the references, LRPE is relative, both differentiable and leak-free", async () => {
    const x = randomPair([2, 3, 7, 4], 71);
    await expectClose(srmsNorm(x.tensor), referenceSrmsNorm(x.host), { atol: 1e-5, rtol: 1e-4 });
    await expectClose(lrpe(x.tensor, { offset: 5 }), referenceLrpe(x.host, 5), { atol: 1e-5, rtol: 1e-4 });
    // ⟨lrpe(q)_n, lrpe(k)_m⟩ depends on n − m only.
    const q = randomPair([1, 1, 1, 4], 72).tensor;
    const k = randomPair([1, 1, 1, 4], 73).tensor;
    const dot = async (n: number, m: number) => (await lrpe(q, { offset: n }).mul(lrpe(k, { offset: m })).sum().data())[0]!;
    expect(await dot(9, 4)).toBeCloseTo(await dot(5, 0), 4);
    await checkGradients((a) => srmsNorm(a!), [x.tensor], { maxElements: 12 });
    await checkGradients((a) => lrpe(a!, { offset: 2 }), [x.tensor], { maxElements: 12 });
    await expectNoLeaks(() => [srmsNorm(x.tensor), lrpe(x.tensor)]);
    tf.dispose([x.tensor, q, k]);
  });
});

describe("alibiSlopes and transnormerDecay", () => {
  for (const c of cases.filter((x) => x.function === "alibi_slopes" || x.function === "tnl_decay")) {
    it(`matches fixture ${c.name}`, async () => {
      const o = c.options;
      const got = c.function === "alibi_slopes" ? alibiSlopes(o.n_heads!) : transnormerDecay({ heads: o.n_heads!, layers: o.n_layers!, layerIndex: o.layer_idx!, variant: o.variant! });
      await expectClose(got, toNumbers(Object.values(c.expected)[0]!), c.tolerance);
    });
  }
  it("defaults to the official variant, keeps λ in (0, 1] and rejects bad input", () => {
    expect(transnormerDecay({ heads: 4, layers: 6, layerIndex: 2 })).toEqual(transnormerDecay({ heads: 4, layers: 6, layerIndex: 2, variant: "official" }));
    for (const l of transnormerDecay({ heads: 6, layers: 1, layerIndex: 0 })) expect(l > 0 && l <= 1).toBe(true);
    expect(() => transnormerDecay({ heads: 4, layers: 6, layerIndex: 6 })).toThrow(/layerIndex/);
    expect(() => transnormerDecay({ heads: 4, layers: 6, layerIndex: 0, variant: "hf" as never })).toThrow(OptionError);
    expect(() => alibiSlopes(0)).toThrow(/alibiSlopes: heads/);
    expect(() => lrpe(tf.zeros([1, 2, 3]))).toThrow(/lrpe: x must have rank 4/);
    expect(() => lrpe(tf.zeros([1, 2, 3, 4]), { offset: -1 })).toThrow(/offset/);
    expect(() => srmsNorm(tf.zeros([2, 3]), { eps: -1 })).toThrow(/eps/);
  });
});
