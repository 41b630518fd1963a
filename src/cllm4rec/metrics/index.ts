export { TopKSelector, topK } from './topk';
export { recallAtK, ndcgAtK } from './ranking';
export {
  evaluateRanking,
  DEFAULT_RECALL_KS,
  DEFAULT_NDCG_KS,
  type EvalSplit,
  type EvalOptions,
  type EvalResult,
  type ScoreFn,
} from './evaluate';
