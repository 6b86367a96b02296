export { insertLandmarks, landmarkedLength, type InsertLandmarksOptions, type InsertLandmarksResult } from "./ops/insert";
export { landmarkGroupedSoftmax } from "./ops/grouped-softmax";
export { landmarkAttention, type LandmarkAttentionOptions, type LandmarkAttentionWithWeights } from "./ops/landmark-attention";
export {
  landmarkRetrievalAttention,
  type LandmarkRetrievalOptions,
  type LandmarkRetrievalResult,
  type LandmarkSelection,
} from "./ops/retrieval";
export { LandmarkMemory, type LandmarkMemoryOptions } from "./layers/landmark-memory";
export { LandmarkAttention, type LandmarkAttentionArgs } from "./layers/landmark-attention";
export {
  passkeyPrompt,
  passkeyHitRate,
  passkeyVocabulary,
  PASSKEY_WORDS,
  type PasskeyPrompt,
  type PasskeyPromptOptions,
  type PasskeyVocabulary,
} from "./ops/passkey";
