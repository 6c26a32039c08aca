import assert from "node:assert/strict";
import {
  nllSignal,
  plausibleWord,
  PROBE_PASSAGE,
  textSignals,
} from "../../lib/validate/linguistic.ts";
import { DEFAULT_RULES } from "../../lib/validate/rules.ts";

const L = DEFAULT_RULES.linguistic;

/** The value of one text signal. */
const measure = (id: string, text: string, ids: readonly number[] = []) =>
  textSignals(text, ids, L).find((s) => s.id === id)!.value;
const printableRatio = (text: string) => measure("printable_ratio", text);
const letterRatio = (text: string) => measure("letter_ratio", text);
const wordShapeRatio = (text: string) => measure("word_shape_ratio", text);
const longestRepeatRun = (ids: readonly number[]) => measure("repeat_run", "", ids);

Deno.test("printableRatio counts control and replacement characters", () => {
  assert.equal(printableRatio(" Paris.\n"), 1);
  assert.equal(printableRatio("ab\u0001\uFFFD"), 0.5);
  assert.equal(printableRatio(""), 0);
});

Deno.test("letterRatio over non-space characters, any script", () => {
  assert.equal(letterRatio(" Paris."), 5 / 6);
  assert.equal(letterRatio("東京 です"), 1);
  assert.equal(letterRatio("!!! ..."), 0);
  assert.equal(letterRatio("   "), 0);
});

Deno.test("plausibleWord and wordShapeRatio", () => {
  for (
    const w of [
      "Paris.",
      "the",
      "Copenhagen,",
      "NASA",
      "don't",
      "well-known",
      "48",
      "3.5%",
      "(Tokyo)",
      "café",
      "東京",
    ]
  ) {
    assert.equal(plausibleWord(w), true, w);
  }
  for (const w of ["xqzkvt", "caPItAl", "ationsmoParisithegcapitalofparis", "BCDFGHK"]) {
    assert.equal(plausibleWord(w), false, w);
  }
  assert.equal(plausibleWord("--"), null);
  assert.equal(wordShapeRatio("The capital of xqzkvt"), 0.75);
  assert.equal(wordShapeRatio(" -- "), 0);
});

Deno.test("longestRepeatRun", () => {
  assert.equal(longestRepeatRun([]), 0);
  assert.equal(longestRepeatRun([1, 2, 3]), 1);
  assert.equal(longestRepeatRun([5, 7, 7, 7, 2, 2]), 3);
});

Deno.test("textSignals: the fixture's reference continuation passes, degenerate outputs fail", () => {
  // reference.json greedy text for "The capital of France is" (8 tokens).
  const good = textSignals(" Paris. The capital of Denmark is Copenhagen", [
    1197,
    46,
    292,
    275,
    272,
    931,
    264,
    1119,
  ], L);
  assert.ok(good.every((s) => s.pass), JSON.stringify(good));
  const repeated = textSignals(" the the the the the the the the", [
    259,
    259,
    259,
    259,
    259,
    259,
    259,
    259,
  ], L);
  assert.deepEqual(repeated.filter((s) => !s.pass).map((s) => s.id), ["repeat_run"]);
  const noise = textSignals("\u0003\uFFFD#@!~ \uFFFD", [1, 2, 3], L);
  assert.deepEqual(noise.filter((s) => !s.pass).map((s) => s.id), [
    "printable_ratio",
    "letter_ratio",
    "word_shape_ratio",
  ]);
  const empty = textSignals("", [], L);
  assert.deepEqual(empty.filter((s) => !s.pass).map((s) => s.id), [
    "printable_ratio",
    "letter_ratio",
    "word_shape_ratio",
  ]);
});

Deno.test("nllSignal: below a fraction of log(vocab)", () => {
  const logV = Math.log(2048);
  assert.equal(nllSignal(2.7, 2048, L).pass, true);
  assert.equal(nllSignal(logV, 2048, L).pass, false);
  assert.equal(nllSignal(NaN, 2048, L).pass, false);
  assert.ok(Math.abs(nllSignal(1, 2048, L).threshold - L.maxNllFraction * logV) < 1e-12);
});

Deno.test("the passage is plain English of the fixture's kind", () => {
  assert.ok(PROBE_PASSAGE.startsWith("The capital of France is Paris."));
  assert.ok(PROBE_PASSAGE.includes("Once upon a time, there was a"));
  assert.ok(PROBE_PASSAGE.includes("A week has seven days."));
  assert.equal(printableRatio(PROBE_PASSAGE), 1);
  assert.equal(wordShapeRatio(PROBE_PASSAGE), 1);
});
