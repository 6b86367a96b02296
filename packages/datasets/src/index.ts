export { mulberry32, Rng, type Mulberry32 } from "./rng";
export { mqar, IGNORE_INDEX, type MqarOptions, type MqarData } from "./mqar";
export { passkey, passkeyTokenizer, PASSKEY_TASK, PASSKEY_GARBAGE, PASSKEY_QUESTION, type PasskeyOptions, type PasskeyData } from "./passkey";
export {
  charTokenizer,
  byteTokenizer,
  tokenizerFromJSON,
  DEFAULT_SPECIAL_TOKENS,
  type Tokenizer,
  type TokenizerJSON,
  type TokenizerOptions,
  type EncodeOptions,
  type DecodeOptions,
} from "./tokenizers";
export { loadMobyDick, loadSotu, splitDocuments, encodeDocuments, type TextDocument, type TextCorpus, type SplitOptions, type MobyDickOptions, type SotuOptions } from "./corpora";
export { loadMnist, MNIST_IMAGE_SHAPE, type ImageSet, type MnistOptions } from "./mnist";
export { column, textWindows, padSequences, isColumn, type Column, type ColumnLike, type NumericArray, type ColumnDtype, type ColumnOptions, type TextWindowOptions } from "./columns";
export { batches, toTfDataset, epochOrder, gather, BatchIterator, type Batch, type Columns, type BatchOptions, type BatchPosition, type TfDatasetOptions } from "./batches";
