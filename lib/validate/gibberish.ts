/**
 * Gibberish signals, computed on the generated TEXT and ids only (never on a
 * log that also holds the prompt): printable ratio, letter ratio, word
 * shapes, and the longest run of one repeated token. Each signal is a number
 * with a threshold from the rules, so a report shows why text was judged.
 *
 * @example
 * ```ts
 * import { textSignals } from "./gibberish.ts";
 * import { DEFAULT_RULES } from "./rules.ts";
 * const s = textSignals(" Paris. The capital of Denmark is", [1197, 46, 292], DEFAULT_RULES.linguistic);
 * s.every((x) => x.pass); // true
 * ```
 * @module
 */

import type { Signal } from "./report.ts";
import type { LinguisticRules } from "./rules.ts";

const ALLOWED_CONTROLS = new Set(["\n", "\t", "\r"]);
const UNPRINTABLE = /[\p{Cc}\p{Cs}\p{Co}\p{Cn}\uFFFD]/u;

/**
 * Share of characters (code points) that are printable: no control character
 * other than newline/tab, no replacement character (broken UTF-8), no
 * unassigned or private-use code point. 0 for empty text.
 *
 * @example
 * ```ts
 * printableRatio("ab\u0001\uFFFD"); // 0.5
 * ```
 */
export function printableRatio(text: string): number {
  const chars = [...text];
  if (chars.length === 0) return 0;
  const bad = chars.filter((c) => !ALLOWED_CONTROLS.has(c) && UNPRINTABLE.test(c)).length;
  return (chars.length - bad) / chars.length;
}

/**
 * Share of non-space characters that are letters (any script). 0 for text
 * with no non-space character.
 *
 * @example
 * ```ts
 * letterRatio(" Paris."); // 5 / 6
 * ```
 */
export function letterRatio(text: string): number {
  const chars = [...text].filter((c) => !/\s/u.test(c));
  if (chars.length === 0) return 0;
  return chars.filter((c) => /\p{L}/u.test(c)).length / chars.length;
}

const VOWEL = /[aeiouyàáâãäåæèéêëìíîïòóôõöøùúûüýÿœ]/iu;
const LATIN_WORD = /^[A-Za-zÀ-ÖØ-öø-ÿŒœ]+(?:['’-][A-Za-zÀ-ÖØ-öø-ÿŒœ]+)*$/u;
const NUMBER = /^[+-]?\d+(?:[.,:]\d+)*(?:st|nd|rd|th|s|%)?$/u;
const OTHER_SCRIPT_WORD = /^\p{L}+(?:['’-]\p{L}+)*$/u;

/**
 * Whether one whitespace-separated word has a plausible shape once the
 * punctuation around it is stripped: a number; a Latin-script word of at
 * most 20 letters in lower, Capitalized or UPPER case that has a vowel (or is
 * an acronym of at most 5 capitals); or a word of another script. Returns
 * null for a word that is only punctuation (not counted).
 *
 * @example
 * ```ts
 * plausibleWord("Paris."); // true
 * plausibleWord("xqzkvt"); // false
 * plausibleWord("caPItAl"); // false
 * plausibleWord("--"); // null
 * ```
 */
export function plausibleWord(word: string): boolean | null {
  const core = word.replace(/^[\p{P}\p{S}]+|[\p{P}\p{S}]+$/gu, "");
  if (core === "") return null;
  if (NUMBER.test(core)) return true;
  if (LATIN_WORD.test(core)) {
    if (core.length > 20) return false;
    const letters = core.replace(/['’-]/g, "");
    const lower = letters === letters.toLowerCase();
    const upper = letters === letters.toUpperCase();
    const capitalized = letters[0] === letters[0]!.toUpperCase() &&
      letters.slice(1) === letters.slice(1).toLowerCase();
    if (upper) return letters.length <= 5 || VOWEL.test(letters);
    if (!lower && !capitalized) return false;
    return VOWEL.test(letters);
  }
  return OTHER_SCRIPT_WORD.test(core) && [...core].length <= 20;
}

/**
 * Share of words with a plausible shape ({@link plausibleWord}); 0 when the
 * text has no word.
 *
 * @example
 * ```ts
 * wordShapeRatio("The capital of xqzkvt"); // 0.75
 * ```
 */
export function wordShapeRatio(text: string): number {
  const verdicts = text.split(/\s+/u).filter((w) => w !== "").map(plausibleWord)
    .filter((v): v is boolean => v !== null);
  if (verdicts.length === 0) return 0;
  return verdicts.filter((v) => v).length / verdicts.length;
}

/**
 * The longest run of one token id repeated back to back (0 for no ids).
 *
 * @example
 * ```ts
 * longestRepeatRun([5, 7, 7, 7, 2]); // 3
 * ```
 */
export function longestRepeatRun(ids: readonly number[]): number {
  let best = 0, run = 0;
  for (let i = 0; i < ids.length; i++) {
    run = i > 0 && ids[i] === ids[i - 1] ? run + 1 : 1;
    if (run > best) best = run;
  }
  return best;
}

/**
 * The four text signals of generated text and ids, each with its threshold.
 *
 * @example
 * ```ts
 * import { DEFAULT_RULES } from "./rules.ts";
 * textSignals("\u0001\u0002", [3, 3, 3, 3, 3, 3], DEFAULT_RULES.linguistic).filter((s) => !s.pass).length; // 4
 * ```
 */
export function textSignals(
  text: string,
  ids: readonly number[],
  rules: LinguisticRules,
): Signal[] {
  const printable = printableRatio(text);
  const letters = letterRatio(text);
  const words = wordShapeRatio(text);
  const run = longestRepeatRun(ids);
  return [
    {
      id: "printable_ratio",
      value: printable,
      threshold: rules.minPrintableRatio,
      pass: printable >= rules.minPrintableRatio,
      detail: `share of printable characters, at least ${rules.minPrintableRatio}`,
    },
    {
      id: "letter_ratio",
      value: letters,
      threshold: rules.minLetterRatio,
      pass: letters >= rules.minLetterRatio,
      detail: `share of letters among non-space characters, at least ${rules.minLetterRatio}`,
    },
    {
      id: "word_shape_ratio",
      value: words,
      threshold: rules.minWordShapeRatio,
      pass: words >= rules.minWordShapeRatio,
      detail: `share of words with a plausible shape, at least ${rules.minWordShapeRatio}`,
    },
    {
      id: "repeat_run",
      value: run,
      threshold: rules.maxRepeatRun,
      pass: run <= rules.maxRepeatRun,
      detail: `longest run of one repeated token, at most ${rules.maxRepeatRun}`,
    },
  ];
}

/**
 * The NLL signal: the passage's mean NLL must be below `maxNllFraction`
 * times log(vocab size).
 *
 * @example
 * ```ts
 * import { DEFAULT_RULES } from "./rules.ts";
 * nllSignal(2.1, 2048, DEFAULT_RULES.linguistic).pass; // true (threshold 0.6 * 7.62)
 * ```
 */
export function nllSignal(meanNll: number, vocabSize: number, rules: LinguisticRules): Signal {
  const logV = Math.log(vocabSize);
  const threshold = rules.maxNllFraction * logV;
  return {
    id: "passage_nll",
    value: meanNll,
    threshold,
    pass: Number.isFinite(meanNll) && meanNll < threshold,
    detail: `mean NLL of the English passage, below ${rules.maxNllFraction} x log(${vocabSize}) = ${
      threshold.toFixed(3)
    }`,
  };
}
