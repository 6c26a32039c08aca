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
 * import { runLinguisticGate } from "./linguistic.ts";
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
import type { Check, GateResult, ProbeResult, Signal } from "./report.ts";
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
 * if (onlyExpectFailed(report.gates.at(-1)!)) console.log("expected text not found");
 * ```
 */
export function onlyExpectFailed(gate: GateResult): boolean {
  const failed = gate.checks.filter((c) => c.status === "fail");
  return gate.id === "linguistic" && failed.length > 0 && failed.every((c) => c.id === "expect");
}

/**
 * Runs the probe and judges it.
 *
 * @example
 * ```ts
 * const r = runLinguisticGate({ engine, tokenizer, prompt: "Once upon a time", maxTokens: 8, expect: null, rules });
 * r.gate.exitCode; // null, 14 or 15
 * ```
 */
export function runLinguisticGate(input: LinguisticInput): LinguisticResult {
  const started = performance.now();
  const { engine, tokenizer, prompt, maxTokens, expect, rules } = input;
  const passage = input.passage ?? PROBE_PASSAGE;
  const title = "Gate 3: linguistic probe";
  let promptIds: number[];
  let generatedIds: number[];
  let text: string;
  let nll: { meanNll: number; tokens: number };
  const timings: Record<string, number> = {};
  try {
    promptIds = tokenizer.encode(prompt);
    const gen = engine.generate(promptIds, { maxTokens });
    generatedIds = gen.ids;
    timings.promptMs = gen.timings.promptMs;
    timings.generateMs = gen.timings.genMs;
    text = tokenizer.decode(generatedIds, { skipSpecial: true });
    const t0 = performance.now();
    nll = engine.nll(tokenizer.encode(passage));
    timings.nllMs = performance.now() - t0;
  } catch (e) {
    const message = `the inference probe failed to run: ${(e as Error).message}`;
    return {
      gate: {
        id: "linguistic",
        title,
        status: "fail",
        exitCode: EXIT.probeFailed,
        summary: message,
        durationMs: performance.now() - started,
        checks: [{ id: "probe_run", status: "fail", message }],
      },
      probe: null,
    };
  }

  const vocabSize = engine.hparams.vocabSize;
  const signals: Signal[] = [
    ...textSignals(text, generatedIds, rules.linguistic),
    nllSignal(nll.meanNll, vocabSize, rules.linguistic),
  ];
  const checks: Check[] = [
    {
      id: "probe_run",
      status: "pass",
      message: `generated ${generatedIds.length} tokens for ${JSON.stringify(prompt)}: ${
        JSON.stringify(text)
      }`,
    },
    ...signals.map((s): Check => ({
      id: s.id,
      status: s.pass ? "pass" : "fail",
      message: `${Number(s.value.toPrecision(4))}: ${s.detail}`,
    })),
  ];
  if (expect !== null) {
    const found = text.includes(expect);
    checks.push({
      id: "expect",
      status: found ? "pass" : "fail",
      message: found
        ? `the output contains ${JSON.stringify(expect)}`
        : `the output ${JSON.stringify(text)} does not contain ${JSON.stringify(expect)}`,
    });
  }
  const failed = checks.filter((c) => c.status === "fail");
  const logVocab = Math.log(vocabSize);
  return {
    gate: {
      id: "linguistic",
      title,
      status: failed.length ? "fail" : "pass",
      exitCode: failed.length ? EXIT.gibberish : null,
      summary: failed.length === 0
        ? `coherent output, passage NLL ${nll.meanNll.toFixed(3)} (log V = ${logVocab.toFixed(3)})`
        : failed.every((c) => c.id === "expect")
        ? `${EXPECTED_TEXT_NOT_FOUND}: ${failed[0]!.message}`
        : `the output is gibberish: ${failed.map((c) => c.id).join(", ")} failed`,
      durationMs: performance.now() - started,
      checks,
    },
    probe: {
      prompt,
      promptIds,
      maxTokens,
      generatedIds,
      text,
      expect,
      signals,
      nll: {
        meanNll: nll.meanNll,
        tokens: nll.tokens,
        logVocab,
        threshold: rules.linguistic.maxNllFraction * logVocab,
      },
      timings,
    },
  };
}
