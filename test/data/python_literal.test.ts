import { test } from "node:test";
import * as assert from "node:assert/strict";
import { parsePythonLiteral } from "../../src/cllm4rec/data/python_literal";

test("parsePythonLiteral reads an old Amazon dump line", () => {
  const line =
    `{'reviewerID': 'A2SUAM1J3GNN3B', 'asin': '0000013714', 'reviewerName': u'J. McDonald', 'helpful': [2, 3], ` +
    `'reviewText': "I bought this for my husband's piano. It's \\"great\\"\\n", 'overall': 5.0, 'summary': 'Heavenly', ` +
    `'unixReviewTime': 1252800000, 'verified': True, 'vote': None, 'neg': -1.5e2, 'tuple': (1, 'a',), 'esc': '\\xe9\\u00e9'}`;
  assert.deepEqual(parsePythonLiteral(line), {
    reviewerID: "A2SUAM1J3GNN3B",
    asin: "0000013714",
    reviewerName: "J. McDonald",
    helpful: [2, 3],
    reviewText: `I bought this for my husband's piano. It's "great"\n`,
    overall: 5,
    summary: "Heavenly",
    unixReviewTime: 1252800000,
    verified: true,
    vote: null,
    neg: -150,
    tuple: [1, "a"],
    esc: "éé",
  });
});

test("parsePythonLiteral handles escaped single quotes, empty containers and nesting", () => {
  assert.deepEqual(parsePythonLiteral(`{'a': 'it\\'s', 'b': {}, 'c': [], 'd': {'e': [[]]}}`), { a: "it's", b: {}, c: [], d: { e: [[]] } });
});

test("parsePythonLiteral rejects code and malformed input with a clear error", () => {
  assert.throws(() => parsePythonLiteral(`{'a': __import__('os')}`), /parsePythonLiteral.*unexpected name/);
  assert.throws(() => parsePythonLiteral(`{'a': 1`), /parsePythonLiteral/);
  assert.throws(() => parsePythonLiteral(`{'a': 'x}`), /unterminated string/);
  assert.throws(() => parsePythonLiteral(`{'a': 1} extra`), /trailing characters/);
});
