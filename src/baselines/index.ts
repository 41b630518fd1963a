export type { Split, FitOptions, Recommender } from "./types";
export { PopularityRecommender } from "./popularity";
export { EaseRecommender, easeWeights, type EaseOptions } from "./ease";
export { choleskyInPlace, invertSpd } from "./cholesky";
export { runCompare, type CompareRow, type CompareReport, type CompareOptions } from "./compare";
export { compareMarkdown } from "./compare_table";
export { compareSvg } from "./compare_chart";
export { MultiVaeRecommender, type MultiVaeOptions } from "./multivae";
export { BprRecommender, type BprOptions } from "./bpr";
