/**
 * Gate 3: the linguistic probe. A deterministic greedy continuation of a
 * plain English prompt is judged on the generated text alone by several
 * signals (gibberish.ts), together with the model's teacher-forced mean NLL
 * on a short English passage (passage.ts), which must be well below
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
 * const { gate, probe } = runLinguisticGate({
 *   engine, tokenizer, prompt: "The capital of France is", maxTokens: 8, expect: "Paris",
 *   rules: DEFAULT_RULES,
 * });
 * console.log(gate.status, probe?.text);
 * ```
 * @module
 */

import { EXIT } from "../errors.ts";
import { nllSignal, textSignals } from "./gibberish.ts";
import { PROBE_PASSAGE } from "./passage.ts";
import { type Check, check, type GateResult, type ProbeResult, type Signal } from "./report.ts";
import type { ValidationRules } from "./rules.ts";

/** What the probe needs from an inference engine. */
export interface ProbeEngine {
  readonly hparams: { readonly vocabSize: number };
  generate(
    promptIds: readonly number[],
    opts: { maxTokens: number },
  ): { ids: number[]; timings: { promptMs: number; genMs: number } };
  nll(ids: readonly number[]): { meanNll: number; tokens: number };
}

/** What the probe needs from a tokenizer. */
export interface ProbeTokenizer {
  encode(text: string): number[];
  decode(ids: readonly number[], opts?: { skipSpecial?: boolean }): string;
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
}

/** How a failed `--expect` is reported (the gate's exit code stays 15). */
export const EXPECTED_TEXT_NOT_FOUND = "expected text not found";

/**
 * True when the linguistic gate failed only because the `--expect` text is
 * missing: the output itself passed every gibberish signal.
 *
 * @example
 * ```ts
 * import { check } from "./report.ts";
 * const gate = {
 *   id: "linguistic", title: "Gate 3", status: "fail", exitCode: 15, summary: "", durationMs: 0,
 *   checks: [check("pass", "gibberish", "reads as text"), check("fail", "expect", "no \"Paris\"")],
 * } as const;
 * onlyExpectFailed(gate); // true
 * ```
 */
export function onlyExpectFailed(gate: GateResult): boolean {
  const failed = gate.checks.filter((c) => c.status === "fail");
  return gate.id === "linguistic" && failed.length > 0 && failed.every((c) => c.id === "expect");
}

const TITLE = "Gate 3: linguistic probe";

/** Generates the continuation and measures the passage NLL (null, with the reason, when it fails). */
function runProbe(input: LinguisticInput) {
  const { engine, tokenizer, prompt, maxTokens } = input;
  try {
    const promptIds = tokenizer.encode(prompt);
    const gen = engine.generate(promptIds, { maxTokens });
    const text = tokenizer.decode(gen.ids, { skipSpecial: true });
    const t0 = performance.now();
    const nll = engine.nll(tokenizer.encode(input.passage ?? PROBE_PASSAGE));
    const timings = {
      promptMs: gen.timings.promptMs,
      generateMs: gen.timings.genMs,
      nllMs: performance.now() - t0,
    };
    return { promptIds, generatedIds: gen.ids, text, nll, timings };
  } catch (e) {
    return `the inference probe failed to run: ${(e as Error).message}`;
  }
}

/** The probe's checks: it ran, every gibberish signal, and the expected text when asked. */
function probeChecks(input: LinguisticInput, run: Exclude<ReturnType<typeof runProbe>, string>) {
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
    const found = run.text.includes(expect);
    checks.push(check(
      found ? "pass" : "fail",
      "expect",
      found
        ? `the output contains ${JSON.stringify(expect)}`
        : `the output ${JSON.stringify(run.text)} does not contain ${JSON.stringify(expect)}`,
    ));
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
 * const r = runLinguisticGate({ engine, tokenizer, prompt: "Once upon a time", maxTokens: 8, expect: null, rules: DEFAULT_RULES });
 * r.gate.exitCode; // null, 14 or 15
 * ```
 */
export function runLinguisticGate(input: LinguisticInput): LinguisticResult {
  const started = performance.now();
  const run = runProbe(input);
  if (typeof run === "string") {
    const checks = [check("fail", "probe_run", run)];
    const durationMs = performance.now() - started;
    return {
      gate: {
        id: "linguistic",
        title: TITLE,
        status: "fail",
        exitCode: EXIT.probeFailed,
        summary: run,
        durationMs,
        checks,
      },
      probe: null,
    };
  }
  const { signals, checks } = probeChecks(input, run);
  const failed = checks.filter((c) => c.status === "fail");
  const logVocab = Math.log(input.engine.hparams.vocabSize);
  const { meanNll, tokens } = run.nll;
  return {
    gate: {
      id: "linguistic",
      title: TITLE,
      status: failed.length ? "fail" : "pass",
      exitCode: failed.length ? EXIT.gibberish : null,
      summary: failed.length === 0
        ? `coherent output, passage NLL ${meanNll.toFixed(3)} (log V = ${logVocab.toFixed(3)})`
        : failed.every((c) => c.id === "expect")
        ? `${EXPECTED_TEXT_NOT_FOUND}: ${failed[0]!.message}`
        : `the output is gibberish: ${failed.map((c) => c.id).join(", ")} failed`,
      durationMs: performance.now() - started,
      checks,
    },
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
  };
}
