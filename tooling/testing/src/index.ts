export { loadFixture, toTensor, toHost, toNumbers, isFixtureTensor, type FixtureTensor } from "./fixtures";
export { expectClose, expectEqualInts, type Tolerance } from "./close";
export { expectNoLeaks } from "./leaks";
export { checkGradients, type GradientCheckOptions } from "./gradients";
export { describeBackends, useBackend, selectedBackends, backendTolerance, ALL_BACKENDS } from "./backends";
export { fc, attentionShape, randomValues, randomPair, type AttentionShape } from "./property";
export { runLayerTest, type LayerTestOptions } from "./layer";
