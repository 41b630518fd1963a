// The preprocessed dataset every later stage (corpora, training, metrics) works from.
import type { DatasetCard } from "./dataset_card";

export interface TrainingReview {
  user: number;
  item: number;
  text: string;
}

export interface Dataset {
  name: string;
  numUsers: number;
  numItems: number;
  /** Original id of dense user u (users sorted by original id; numerically when all ids are integers). */
  userIds: string[];
  itemIds: string[];
  /** Per dense user: sorted dense item ids of each split (disjoint; each non-empty). */
  train: number[][];
  val: number[][];
  test: number[][];
  /** null where the source has no text for that item/user. */
  itemText: (string | null)[];
  userText: (string | null)[];
  /** Reviews of training pairs only; validation/test reviews are dropped so they never reach a corpus. */
  reviews: TrainingReview[];
  card: DatasetCard;
}
