export type { Split, FitOptions, Recommender } from './types';
export { PopularityRecommender } from './popularity';
export { EaseRecommender, easeWeights, type EaseOptions } from './ease';
export { choleskyInPlace, invertSpd } from './cholesky';
