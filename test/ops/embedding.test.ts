// embedTokens and selectRows through the tape against finite differences: the scatter-add
// into each table of a shared id space (repeated ids included, as wte/wpe and the user and
// item tables need), a frozen table, and selectRows' dx.
import { test } from "node:test";
import { Tensor, embedTokens, selectRows } from "../../src/engine";
import { checkGradients } from "./fd";

test("embedTokens: gradients reach every table through its own ids, duplicates summed", () => {
  const host = Int32Array.from([0, 5, 2, 5, 4, 0, 6]); // table a: ids 0..3, table b: ids 4..6
  const ids = Tensor.from(host, [host.length], { dtype: "i32" });
  checkGradients(
    "embedTokens",
    [
      { name: "a", shape: [4, 3] },
      { name: "b", shape: [3, 3] },
    ],
    ([a, b]) =>
      embedTokens(host, ids, [
        { table: a, base: 0 },
        { table: b, base: 4 },
      ]),
  );
  checkGradients(
    "embedTokens frozen a",
    [
      { name: "a", shape: [4, 3], grad: false },
      { name: "b", shape: [3, 3] },
    ],
    ([a, b]) =>
      embedTokens(host, ids, [
        { table: a, base: 0 },
        { table: b, base: 4 },
      ]),
  );
  ids.dispose();
});

test("selectRows: dx scatters the rows back, with and without host indices", () => {
  const host = Int32Array.from([2, 0, 2, 1]);
  const idx = Tensor.from(host, [4], { dtype: "i32" });
  checkGradients("selectRows host", [{ name: "x", shape: [3, 2] }], ([x]) => selectRows(x, idx, host));
  checkGradients("selectRows device", [{ name: "x", shape: [3, 2] }], ([x]) => selectRows(x, idx));
  idx.dispose();
});
