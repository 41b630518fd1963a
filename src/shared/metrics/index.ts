export { TopKSelector, topK } from "./topk";
export { recallAtK, ndcgAtK } from "./ranking";
export {
  evaluateRanking,
  DEFAULT_RECALL_KS,
  DEFAULT_NDCG_KS,
  DEFAULT_TEST_EXCLUDE,
  type TestExclude,
  type EvalSplit,
  type EvalOptions,
  type EvalResult,
  type ScoreFn,
} from "./evaluate";
