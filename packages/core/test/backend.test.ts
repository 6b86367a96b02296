import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { OptionError, backendInfo, initBackend, registerLayer } from "../src/index";

describe("initBackend", () => {
  it("starts WebGPU through Dawn when asked, and says whether the adapter is hardware", async () => {
    tf.env().set("IS_TEST", true);
    expect(await initBackend({ prefer: ["webgpu"], quiet: true })).toBe("webgpu");
    const info = backendInfo();
    expect(info.name).toBe("webgpu");
    expect(info.adapter).toBeTruthy();
    const software = /llvmpipe|swiftshader|lavapipe|software/i.test(info.adapter!);
    expect(info.hardware).toBe(!software);
    const x = tf.tensor2d([[1, 2], [3, 4]]);
    expect(Array.from(await tf.matMul(x, x).data())).toEqual([7, 10, 15, 22]);
    x.dispose();
  });

  it("ranks a software WebGPU adapter after wasm by default", async () => {
    const chosen = await initBackend({ quiet: true });
    const info = backendInfo();
    if (chosen === "wasm") expect(info.skipped.join(" ")).toMatch(/software renderer/);
    else expect(info.hardware).toBe(true);
  });

  it("falls through the preference list and reports why", async () => {
    expect(await initBackend({ prefer: ["webgl", "cpu"], quiet: true })).toBe("cpu");
    expect(backendInfo().skipped[0]).toMatch(/^webgl:/);
    expect(backendInfo().hardware).toBe(false);
  });

  it("rejects bad options", async () => {
    await expect(initBackend({ prefer: [] })).rejects.toThrow(OptionError);
    await expect(initBackend({ prefer: ["tpu" as never] })).rejects.toThrow(/prefer\[0\] must be one of/);
  });
});

describe("registerLayer", () => {
  it("registers under attnkit>ClassName and rejects classes without a className", async () => {
    class Doubler extends tf.layers.Layer {
      static className = "Doubler";
      override call(x: tf.Tensor | tf.Tensor[]) {
        return tf.tidy(() => (Array.isArray(x) ? x[0]! : x).mul(2));
      }
    }
    registerLayer(Doubler);
    expect(tf.serialization.getRegisteredName(Doubler)).toBe("attnkit>Doubler");
    class Nameless extends tf.layers.Layer {
      static className = "";
    }
    expect(() => registerLayer(Nameless as never)).toThrow(OptionError);
  });
});
