// Bad input throws ShapeError / OptionError naming the function and the argument. Validation runs
// before any kernel, so one backend (cpu) covers it.
import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import { OptionError, ShapeError } from "@attnkit/core";
import { describeBackends } from "@attnkit/testing";
import { LandmarkAttention, LandmarkMemory, insertLandmarks, landmarkAttention, landmarkGroupedSoftmax, landmarkRetrievalAttention } from "../src/index";

describeBackends(
  "bad input",
  () => {
    const q = () => tf.zeros([1, 2, 9, 4]);
    const odd = () => tf.zeros([1, 2, 9, 3]);

    it("insertLandmarks", () => {
      expect(() => insertLandmarks([[1, 2]], { blockSize: 0, landmarkId: 9 })).toThrow(OptionError);
      expect(() => insertLandmarks([[1, 2]], { blockSize: 0, landmarkId: 9 })).toThrow(/insertLandmarks: blockSize must be an integer ≥ 1, got 0/);
      expect(() => insertLandmarks([[1, 2], [3]], { blockSize: 2, landmarkId: 9 })).toThrow(ShapeError);
      expect(() => insertLandmarks([[1, 2.5]], { blockSize: 2, landmarkId: 9 })).toThrow(/tokenIds must hold integers/);
      expect(() => insertLandmarks([[1]], { blockSize: 2, landmarkId: 9, every: 3 } as never)).toThrow(/unknown option 'every'/);
      expect(() => insertLandmarks([[1]], { blockSize: 2, landmarkId: 9, trailing: "yes" } as never)).toThrow(/trailing must be true or false/);
    });

    it("landmarkGroupedSoftmax", () => {
      const s = tf.zeros([3, 5]);
      expect(() => landmarkGroupedSoftmax(s, [false, true])).toThrow(/landmarkGroupedSoftmax: isLandmark must hold 5 booleans/);
      expect(() => landmarkGroupedSoftmax(s, tf.zeros([4]))).toThrow(ShapeError);
      expect(() => landmarkGroupedSoftmax(tf.zeros([5]), [false])).toThrow(/scores must have rank/);
      expect(() => landmarkGroupedSoftmax(tf.zeros([6, 5]), new Array(5).fill(false))).toThrow(/no more query rows than key columns/);
    });

    it("landmarkAttention", () => {
      expect(() => landmarkAttention(q(), q(), q(), { blockSize: 0 })).toThrow(/landmarkAttention: blockSize must be an integer ≥ 1, got 0/);
      expect(() => landmarkAttention(q(), q(), q(), { blockSize: 1.5 })).toThrow(OptionError);
      expect(() => landmarkAttention(q(), q(), q(), {} as never)).toThrow(/blockSize must be an integer/);
      expect(() => landmarkAttention(odd(), odd(), odd(), { blockSize: 2, ropeBase: 10000 })).toThrow(/even last dimension when ropeBase is set/);
      expect(() => landmarkAttention(q(), q(), q(), { blockSize: 2, ropeBase: -1 })).toThrow(/ropeBase must be a finite number > 0/);
      expect(() => landmarkAttention(q(), q(), q(), { blockSize: 2, scale: 0 })).toThrow(/scale/);
      expect(() => landmarkAttention(tf.zeros([2, 9, 4]), q(), q(), { blockSize: 2 })).toThrow(/q must have rank 4/);
      expect(() => landmarkAttention(tf.zeros([1, 2, 10, 4]), q(), q(), { blockSize: 2 })).toThrow(/at most as many positions as k/);
      expect(() => landmarkAttention(q(), q(), q(), { blockSize: 2, window: 3 } as never)).toThrow(/unknown option 'window'/);
    });

    it("landmarkRetrievalAttention", () => {
      const base = { blockSize: 2, topK: 1, memoryLength: 6 };
      expect(() => landmarkRetrievalAttention(q(), q(), q(), { ...base, memoryLength: 5 })).toThrow(
        /landmarkRetrievalAttention: memoryLength must be a multiple of blockSize \+ 1 = 3/,
      );
      expect(() => landmarkRetrievalAttention(q(), q(), q(), { ...base, memoryLength: 9 })).toThrow(/leave at least one query position/);
      expect(() => landmarkRetrievalAttention(q(), q(), q(), { ...base, memoryLength: 12 })).toThrow(/memoryLength must be ≤ the key length 9/);
      expect(() => landmarkRetrievalAttention(q(), q(), q(), { ...base, blockSize: 0 })).toThrow(/blockSize must be an integer ≥ 1/);
      expect(() => landmarkRetrievalAttention(q(), q(), q(), { ...base, topK: -1 })).toThrow(/topK must be an integer ≥ 0/);
      expect(() => landmarkRetrievalAttention(q(), q(), q(), { ...base, selection: "per_token_and_head" as never })).toThrow(/selection must be one of/);
      expect(() => landmarkRetrievalAttention(tf.zeros([1, 2, 3, 4]), q(), q(), base)).toThrow(/q must cover the same positions as k/);
      expect(() => landmarkRetrievalAttention(q(), q(), tf.zeros([1, 2, 8, 4]), base)).toThrow(ShapeError);
    });

    it("LandmarkMemory and the layer", () => {
      expect(() => new LandmarkMemory({ blockSize: 2 } as never)).toThrow(/LandmarkMemory: topK must be an integer ≥ 0/);
      const memory = new LandmarkMemory({ blockSize: 2, topK: 1 });
      memory.attend(q(), q(), q()).dispose();
      expect(() => memory.attend(tf.zeros([1, 3, 2, 4]), tf.zeros([1, 3, 2, 4]), tf.zeros([1, 3, 2, 4]))).toThrow(/LandmarkMemory.attend: k and v must match the cached/);
      expect(() => memory.attendPrompt(q(), q(), q(), { chunkSize: 0 })).toThrow(/chunkSize must be an integer ≥ 1/);
      memory.dispose();
      expect(() => new LandmarkAttention({ numHeads: 0, keyDim: 4, blockSize: 2 })).toThrow(/LandmarkAttention: numHeads must be an integer ≥ 1/);
      expect(() => new LandmarkAttention({ numHeads: 1, keyDim: 3, blockSize: 2, ropeBase: 100 })).toThrow(/keyDim must be even/);
      expect(() => new LandmarkAttention({ numHeads: 1, keyDim: 4, blockSize: 2, selection: "all" as never })).toThrow(OptionError);
      expect(() => new LandmarkAttention({ numHeads: 1, keyDim: 4, blockSize: 2, heads: 2 } as never)).toThrow(/unknown option 'heads'/);
    });
  },
  ["cpu"],
);
