// Public surface of the data layer: raw files -> Dataset -> corpora -> batches of token ids.
export { Rng, seedToState } from "../../shared/rng";
export type { ReadIssue } from "./issues";
export type { RawData, RawInteraction } from "./raw_data";
export { readLines, isGzipFile } from "./line_reader";
export { parsePythonLiteral, type PyValue } from "./python_literal";
export { readAmazonReviews, type AmazonReadOptions } from "./read_amazon";
export { readMovielens, type MovielensReadOptions } from "./read_movielens";
export { readGeneric, type GenericFiles, type GenericReadOptions } from "./read_generic";
export { readNpzDataset, readSparseNpz, readDataPickle, type SparseRows } from "./read_npz";
export { kCore } from "./kcore";
export { splitCounts, splitPositives } from "./split";
export { preprocess, resolvePreprocessOptions, sortIds, type PreprocessOptions } from "./preprocess";
export { formatDatasetCard, type DatasetCard } from "./dataset_card";
export type { Dataset, TrainingReview } from "./dataset";
export { generateSynthetic, resolveSyntheticOptions, type SyntheticOptions, type SyntheticTruth } from "./synthetic";
export { loadDataset, readRawData, type DataSpec, type LoadOptions } from "./load_dataset";
export type { CorpusDoc, DocKind, RecSample, EvalPrompt } from "./corpus_doc";
export {
  recPromptText,
  collaborativePromptText,
  reviewPromptText,
  itemTextPromptText,
  userTextPromptText,
  type RecTokenizerLike,
} from "./prompts";
export { collaborativeDocs } from "./collaborative_corpus";
export { contentDocs, type ContentOptions } from "./content_corpus";
export { recSamples, maskedCount, type RecSampleOptions } from "./rec_samples";
export { makeBatches, truncatedLengths, paddingFraction, type BatchOptions, type DocBatch, type RecBatch } from "./batches";
