#!/usr/bin/env node
// Entry point: `node dist/train.js [command] [flags]` (see --help).
import { main } from "./cli/main";

main(process.argv.slice(2)).catch((e: unknown) => {
  const err = e as Error;
  console.error(`error: ${err?.message ? err.message : String(e)}`);
  if (process.env.CLLM4REC_DEBUG) console.error(err.stack);
  process.exitCode = 1;
});
