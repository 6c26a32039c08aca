/**
 * Gate 3: the linguistic probe. A deterministic greedy continuation of a
 * plain English prompt is judged on the generated TEXT and ids alone (never on
 * a log that also holds the prompt) by gibberish signals: printable ratio,
 * letter ratio, word shapes, and the longest run of one repeated token. Each
 * signal is a number with a threshold from the rules, so a report shows why
 * text was judged. With them goes the model's teacher-forced mean NLL on a
 * short English passage ({@link PROBE_PASSAGE}), which must be well below
 * log(vocab size). `expect` additionally requires a substring.
 *
 * Exit codes: 14 when the probe cannot run, 15 when the output is gibberish
 * (or lacks the expected text).
 *
 * @example
 * ```ts
 * import { type ProbeEngine, type ProbeTokenizer, runLinguisticGate } from "./linguistic.ts";
 * import { DEFAULT_RULES } from "./rules.ts";
 * declare const engine: ProbeEngine, tokenizer: ProbeTokenizer;
 * const { gate, probe } = await runLinguisticGate({
 *   engine, tokenizer, prompt: "The capital of France is", maxTokens: 8, expect: "Paris",
 *   rules: DEFAULT_RULES,
 * });
 * console.log(gate.status, probe?.text);
 * ```
 * @module
 */

import { EXIT } from "../errors.ts";
import type { InferenceEngine } from "../inference/engine.ts";
import {
  type Check,
  check,
  failedGate,
  gate,
  type GateResult,
  type ProbeResult,
  type Signal,
} from "./report.ts";
import type { ValidationRules } from "./rules.ts";

type LinguisticRules = ValidationRules["linguistic"];

/**
 * The NLL passage: sentences of the kinds every English model has seen (capitals, calendar facts,
 * a simple story, everyday statements). A real model scores it far below log(vocab size), the NLL
 * of a uniform guess; a model with corrupted weights scores near or above it. A string constant
 * rather than a data file, so that the validator also runs from a URL.
 */
export const PROBE_PASSAGE = [
  "The capital of France is Paris.",
  "What is the capital of Japan? The capital of Japan is Tokyo.",
  "A week has seven days.",
  "Once upon a time, there was a brave little bear named Tom.",
  "He lived in a cozy cottage near the lake.",
  "One day, Tom found a golden key by the river.",
  "The sky is blue, and birds can fly.",
].join(" ");

const ALLOWED_CONTROLS = new Set(["\n", "\t", "\r"]);
const UNPRINTABLE = /[\p{Cc}\p{Cs}\p{Co}\p{Cn}\uFFFD]/u;

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

/** The longest run of one token id repeated back to back (0 for no ids). */
function longestRepeatRun(ids: readonly number[]): number {
  let best = 0, run = 0;
  for (let i = 0; i < ids.length; i++) {
    run = i > 0 && ids[i] === ids[i - 1] ? run + 1 : 1;
    if (run > best) best = run;
  }
  return best;
}

/** The share of `items` that `test` accepts; 0 when there are none. */
const share = <T>(items: readonly T[], test: (item: T) => boolean) =>
  items.length === 0 ? 0 : items.filter(test).length / items.length;

/**
 * The four text signals of generated text and ids, each with its threshold
 * (a `min…` rule is a lower bound, a `max…` rule an upper bound).
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
  const chars = [...text], words = text.split(/\s+/u).filter((w) => w !== "").map(plausibleWord);
  const measured: Record<(typeof TEXT_SIGNALS)[number][0], number> = {
    // Code points: no control character but newline and tab, no U+FFFD (broken UTF-8), no
    // unassigned or private-use one.
    printable_ratio: share(chars, (c) => ALLOWED_CONTROLS.has(c) || !UNPRINTABLE.test(c)),
    // Letters of any script, among the characters that are not white space.
    letter_ratio: share(chars.filter((c) => !/\s/u.test(c)), (c) => /\p{L}/u.test(c)),
    // Words that are only punctuation ({@link plausibleWord} gives null) are not counted.
    word_shape_ratio: share(words.filter((v) => v !== null), (v) => v === true),
    repeat_run: longestRepeatRun(ids),
  };
  return TEXT_SIGNALS.map(([id, rule, what]) => {
    const value = measured[id], threshold = rules[rule], atMost = rule.startsWith("max");
    const pass = atMost ? value <= threshold : value >= threshold;
    const detail = `${what}, at ${atMost ? "most" : "least"} ${threshold}`;
    return { id, value, threshold, pass, detail };
  });
}

/** The text signals: id, the rule that bounds it (`min…` from below, `max…` from above), what it is. */
const TEXT_SIGNALS = [
  ["printable_ratio", "minPrintableRatio", "share of printable characters"],
  ["letter_ratio", "minLetterRatio", "share of letters among non-space characters"],
  ["word_shape_ratio", "minWordShapeRatio", "share of words with a plausible shape"],
  ["repeat_run", "maxRepeatRun", "longest run of one repeated token"],
] as const;

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

/** What the probe needs from an inference engine. */
export type ProbeEngine = Pick<InferenceEngine, "hparams" | "generate" | "nll">;

/**
 * What the probe needs from a tokenizer: a TextTokenizer, or one whose
 * decoding is asynchronous (validate's tokenizer on a worker thread).
 */
export interface ProbeTokenizer {
  encode(text: string): number[];
  decode(ids: readonly number[], opts?: { skipSpecial?: boolean }): string | Promise<string>;
}

/** Inputs of gate 3. */
export interface LinguisticInput {
  readonly engine: ProbeEngine;
  readonly tokenizer: ProbeTokenizer;
  readonly prompt: string;
  readonly maxTokens: number;
  readonly expect: string | null;
  readonly rules: ValidationRules;
  /** The NLL passage; default {@link PROBE_PASSAGE}. */
  readonly passage?: string;
}

/** Gate 3's outcome. */
export interface LinguisticResult {
  readonly gate: GateResult;
  readonly probe: ProbeResult | null;
  /** The gate failed only because the `--expect` text is missing: the output passed every signal. */
  readonly expectOnly: boolean;
}

/** How a failed `--expect` is reported (the gate's exit code stays 15). */
export const EXPECTED_TEXT_NOT_FOUND = "expected text not found";

/** Generates the continuation and measures the passage NLL (null, with the reason, when it fails). */
async function runProbe(input: LinguisticInput) {
  const { engine, tokenizer, prompt, maxTokens } = input;
  try {
    const promptIds = tokenizer.encode(prompt);
    const passageIds = tokenizer.encode(input.passage ?? PROBE_PASSAGE);
    // The default prompt opens the passage: the NLL run keeps what generation needs to go
    // on from the prompt (and along the passage while it chooses the passage's ids).
    const opens = promptIds.every((id, i) => passageIds[i] === id);
    const t0 = performance.now();
    const nll = engine.nll(
      passageIds,
      opens ? { keep: { promptLength: promptIds.length, maxTokens } } : {},
    );
    const nllMs = performance.now() - t0;
    const gen = engine.generate(promptIds, { maxTokens });
    const text = await tokenizer.decode(gen.ids, { skipSpecial: true });
    const { promptMs, genMs: generateMs } = gen.timings;
    const timings = { promptMs, generateMs, nllMs };
    return { promptIds, generatedIds: gen.ids, text, nll, timings };
  } catch (e) {
    return `the inference probe failed to run: ${(e as Error).message}`;
  }
}

/** The probe's checks: it ran, every gibberish signal, and the expected text when asked. */
function probeChecks(
  input: LinguisticInput,
  run: Exclude<Awaited<ReturnType<typeof runProbe>>, string>,
) {
  const { prompt, expect, rules } = input;
  const signals: Signal[] = [
    ...textSignals(run.text, run.generatedIds, rules.linguistic),
    nllSignal(run.nll.meanNll, input.engine.hparams.vocabSize, rules.linguistic),
  ];
  const what = `${run.generatedIds.length} tokens for ${JSON.stringify(prompt)}: ${
    JSON.stringify(run.text)
  }`;
  const checks: Check[] = [
    check("pass", "probe_run", `generated ${what}`),
    ...signals.map((s) =>
      check(s.pass ? "pass" : "fail", s.id, `${Number(s.value.toPrecision(4))}: ${s.detail}`)
    ),
  ];
  if (expect !== null) {
    const found = run.text.includes(expect), wanted = JSON.stringify(expect);
    const message = found
      ? `the output contains ${wanted}`
      : `the output ${JSON.stringify(run.text)} does not contain ${wanted}`;
    checks.push(check(found ? "pass" : "fail", "expect", message));
  }
  return { signals, checks };
}

/**
 * Runs the probe and judges it.
 *
 * @example
 * ```ts
 * import { DEFAULT_RULES } from "./rules.ts";
 * declare const engine: ProbeEngine, tokenizer: ProbeTokenizer;
 * const r = await runLinguisticGate({ engine, tokenizer, prompt: "Once upon a time", maxTokens: 8, expect: null, rules: DEFAULT_RULES });
 * r.gate.exitCode; // null, 14 or 15
 * ```
 */
export async function runLinguisticGate(input: LinguisticInput): Promise<LinguisticResult> {
  const started = performance.now();
  const run = await runProbe(input);
  if (typeof run === "string") {
    return {
      gate: failedGate("linguistic", EXIT.probeFailed, "probe_run", run, started),
      probe: null,
      expectOnly: false,
    };
  }
  const { signals, checks } = probeChecks(input, run);
  const failed = checks.filter((c) => c.status === "fail");
  const expectOnly = failed.length > 0 && failed.every((c) => c.id === "expect");
  const logVocab = Math.log(input.engine.hparams.vocabSize);
  const { meanNll, tokens } = run.nll;
  return {
    gate: gate("linguistic", {
      exitCode: failed.length ? EXIT.gibberish : null,
      summary: failed.length === 0
        ? `coherent output, passage NLL ${meanNll.toFixed(3)} (log V = ${logVocab.toFixed(3)})`
        : expectOnly
        ? `${EXPECTED_TEXT_NOT_FOUND}: ${failed[0]!.message}`
        : `the output is gibberish: ${failed.map((c) => c.id).join(", ")} failed`,
      checks,
      started,
    }),
    probe: {
      prompt: input.prompt,
      promptIds: run.promptIds,
      maxTokens: input.maxTokens,
      generatedIds: run.generatedIds,
      text: run.text,
      expect: input.expect,
      signals,
      nll: {
        meanNll,
        tokens,
        logVocab,
        threshold: input.rules.linguistic.maxNllFraction * logVocab,
      },
      timings: run.timings,
    },
    expectOnly,
  };
}
