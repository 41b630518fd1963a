// Times one epoch of CLLM4Rec corpora (collaborative + content + rec samples, tokenised and batched) on synthetic data.
import { performance } from "node:perf_hooks";
import { defaultTokenizer, RecTokenizer } from "../src/io/tokenizer";
import { loadDataset } from "../src/cllm4rec/data/load_dataset";
import { collaborativeDocs } from "../src/cllm4rec/data/collaborative_corpus";
import { contentDocs } from "../src/cllm4rec/data/content_corpus";
import { recSamples } from "../src/cllm4rec/data/rec_samples";
import { makeBatches, paddingFraction } from "../src/cllm4rec/data/batches";
import { Rng } from "../src/shared/rng";

const ms = (t0: number): number => Math.round((performance.now() - t0) * 10) / 10;

export async function runDataBench(): Promise<Record<string, unknown>> {
  const numUsers = 10_000;
  const numItems = 2_000;
  let t0 = performance.now();
  const ds = await loadDataset({ kind: "synthetic", numUsers, numItems, seed: 1 });
  const buildDatasetMs = ms(t0);
  const tok = new RecTokenizer(defaultTokenizer(), ds.numUsers, ds.numItems);
  const rng = new Rng(1);
  const batchSize = 20;

  const epoch = (): Record<string, number> => {
    const e0 = performance.now();
    let t = performance.now();
    const collab = makeBatches(collaborativeDocs(ds, tok, rng), batchSize, { rng, lengthAware: true });
    const collaborativeMs = ms(t);
    t = performance.now();
    const content = makeBatches(contentDocs(ds, tok), batchSize, { rng, lengthAware: true });
    const contentMs = ms(t);
    t = performance.now();
    const rec = makeBatches(recSamples(ds, tok, rng), batchSize, { rng, lengthAware: true });
    const recMs = ms(t);
    const tokens =
      [...collab, ...content].reduce(
        (a, b) => a + b.promptLengths.reduce((x, y) => x + y, 0) + b.mainLengths.reduce((x, y) => x + y, 0),
        0,
      ) + rec.reduce((a, b) => a + b.promptLengths.reduce((x, y) => x + y, 0), 0);
    const totalMs = ms(e0);
    return {
      totalMs,
      collaborativeMs,
      contentMs,
      recMs,
      batches: collab.length + content.length + rec.length,
      rows: collab.reduce((a, b) => a + b.size, 0) + content.reduce((a, b) => a + b.size, 0) + rec.reduce((a, b) => a + b.size, 0),
      tokens,
      tokensPerSecond: Math.round(tokens / (totalMs / 1000)),
      padding: Math.round(1000 * paddingFraction([...collab, ...content, ...rec])) / 1000,
    };
  };
  t0 = performance.now();
  const cold = epoch();
  const warm = epoch();
  return {
    bench: "data",
    dataset: { users: ds.numUsers, items: ds.numItems, train: ds.card.interactions.train, reviews: ds.reviews.length },
    buildDatasetMs,
    batchSize,
    firstEpoch: cold,
    laterEpoch: warm,
  };
}

if (require.main === module) {
  runDataBench().then(
    (r) => console.log(JSON.stringify(r, null, 2)),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
