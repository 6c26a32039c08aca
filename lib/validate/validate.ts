/**
 * Validates a GGUF without correcting anything in the file: strict-mode
 * check, gate 1 (norms), gate 2 (projections and model loading: shapes,
 * ternary values, tokenizer, engine load), gate 3 (linguistic probe). Returns
 * one report object whose `exitCode` is the first failing gate's code (16,
 * then 10/11/12, then 13, then 14/15), or 0.
 *
 * Gates 1 and 2 judge the file exactly as stored; a correction policy (triage
 * only, never in strict mode) changes only what the engine computes in gate 3.
 *
 * @example
 * ```ts
 * import { validateGguf } from "./validate.ts";
 * const report = await validateGguf({ ggufPath: "models/clean/clean-f16.gguf", expect: "Paris" });
 * console.log(report.exitCode, report.gates.map((g) => `${g.id}:${g.status}`));
 * ```
 * @module
 */

import { assertStrictAllows, type BitnetEnv, readBitnetEnv } from "../cli/env.ts";
import { EXIT, EXIT_MEANINGS, type ExitCode } from "../errors.ts";
import { type GgufFile, openGguf } from "../gguf/reader.ts";
import type { BackendName } from "../inference/backend.ts";
import { InferenceEngine } from "../inference/engine.ts";
import { type ModelHparams, readHparams } from "../arch/hparams.ts";
import { archByGgufName } from "../arch/registry.ts";
import { sha256File } from "../io/hash.ts";
import { TOOL } from "../provenance/meta.ts";
import { TextTokenizer } from "../tokenizer/tokenizer.ts";
import { compareModels, type DifferentialReport } from "./differential.ts";
import { runLinguisticGate } from "./linguistic.ts";
import { runNormGate } from "./inspect.ts";
import { PROBE_PASSAGE } from "./passage.ts";
import { resolveCorrections } from "./policy.ts";
import { inspectProjections } from "./projections.ts";
import {
  type Check,
  type GateId,
  type GateResult,
  type NormFinding,
  REPORT_SCHEMA_ID,
  type TensorStatsEntry,
  type ValidationReport,
} from "./report.ts";
import { DEFAULT_RULES, type ValidationRules } from "./rules.ts";

import { DEFAULT_PROMPT } from "../inference/probe.ts";

/** The probe's prompt (the one default, lib/inference/probe.ts) and its 8 new tokens, greedy. */
export { DEFAULT_PROMPT };
/** New tokens of the probe. */
export const DEFAULT_MAX_TOKENS = 8;

/** Options of {@link validateGguf}. */
export interface ValidateOptions {
  readonly ggufPath: string;
  /** A tokenizer.json that must agree with the GGUF's tokenizer; default the GGUF's own. */
  readonly tokenizerPath?: string | null;
  /** meta.json of the export; undefined: look beside the GGUF; null: none. */
  readonly metaPath?: string | null;
  readonly rules?: ValidationRules;
  readonly prompt?: string;
  readonly maxTokens?: number;
  /** A substring the generated text must contain. */
  readonly expect?: string | null;
  /** The BITNET_* settings; default read from the environment. */
  readonly env?: BitnetEnv;
  /** Engine threads; default BITNET_THREADS, else the engine's default. */
  readonly threads?: number;
  readonly backend?: BackendName;
  /** A reference GGUF (the float source of a quantized file) to compare outputs with. */
  readonly against?: string | null;
  /** Skip gate 3 (no inference); the report marks it skipped. */
  readonly skipProbe?: boolean;
  /** Progress lines (for stderr). */
  readonly onProgress?: (message: string) => void;
}

function skipped(id: GateId, title: string, why: string): GateResult {
  return { id, title, status: "skip", exitCode: null, summary: why, durationMs: 0, checks: [] };
}

const TITLES: Record<GateId, string> = {
  strict: "Strict mode",
  norms: "Gate 1: norm tensors",
  projections: "Gate 2: projections and model loading",
  linguistic: "Gate 3: linguistic probe",
  differential: "Differential: against the reference model",
};

/**
 * The differential gate: the candidate's next-token distributions against the
 * reference's (lib/validate/differential.ts). A reference that cannot be read is
 * a failure of this gate (13), never an exception.
 */
async function runDifferential(
  candidate: GgufFile,
  referencePath: string,
  engine: { threads?: number; backend?: BackendName },
): Promise<{ gate: GateResult; report: DifferentialReport | null }> {
  const t0 = performance.now();
  let reference: GgufFile;
  try {
    reference = await openGguf(referencePath);
  } catch (e) {
    const message = `cannot read the reference ${referencePath}: ${(e as Error).message}`;
    return {
      gate: {
        id: "differential",
        title: TITLES.differential,
        status: "fail",
        exitCode: EXIT.modelLoad,
        summary: message,
        durationMs: performance.now() - t0,
        checks: [{ id: "reference", status: "fail", message }],
      },
      report: null,
    };
  }
  try {
    const d = await compareModels(candidate, reference, { engine });
    const o = d.overall;
    return {
      gate: {
        id: "differential",
        title: TITLES.differential,
        status: d.status,
        exitCode: d.exitCode,
        summary: o
          ? `top-1 agreement ${
            (100 * o.stableTop1Agreement).toFixed(1)
          }% on ${o.stablePositions} stable positions, mean KL ${
            o.meanKl.toExponential(2)
          }, passage NLL ${o.passageNllIncrease >= 0 ? "+" : ""}${o.passageNllIncrease.toFixed(4)}`
          : d.checks.find((c) => c.status === "fail")?.message ?? d.status,
        durationMs: performance.now() - t0,
        checks: d.checks,
      },
      report: d,
    };
  } finally {
    reference.close();
  }
}

/**
 * Runs every gate and returns the report. Expected failures never throw: they
 * are gates with an exit code. Only bugs and unreadable or malformed
 * correction policy files throw (UsageError, InputError, FormatError).
 *
 * @example
 * ```ts
 * const r = await validateGguf({ ggufPath: "model.gguf", env: readBitnetEnv() });
 * Deno.exit(r.exitCode);
 * ```
 */
export async function validateGguf(opts: ValidateOptions): Promise<ValidationReport> {
  const started = performance.now();
  const env = opts.env ?? readBitnetEnv();
  const rules = opts.rules ?? DEFAULT_RULES;
  const prompt = opts.prompt ?? DEFAULT_PROMPT;
  const maxTokens = opts.maxTokens ?? DEFAULT_MAX_TOKENS;
  const expect = opts.expect ?? null;
  const progress = opts.onProgress ?? (() => {});
  const warnings: string[] = [];
  const gates: GateResult[] = [];
  const timings: Record<string, number> = {};

  const model = {
    path: opts.ggufPath,
    sizeBytes: null as number | null,
    architecture: null as string | null,
    family: null as "bitnet" | "llama" | null,
    sha256: null as string | null,
    metaPath: null as string | null,
    tokenizerPath: opts.tokenizerPath ?? null,
  };
  let norms: NormFinding[] = [];
  let report: Omit<ValidationReport, "exitCode" | "exitMeaning" | "passed" | "gates" | "timings"> =
    {
      schema: REPORT_SCHEMA_ID,
      tool: { name: TOOL.name, version: TOOL.version },
      model,
      environment: {
        strict: env.strict,
        deterministic: env.deterministic,
        seed: env.seed,
        threads: opts.threads ?? env.threads,
        variables: env.raw,
        deno: Deno.version.deno,
        os: `${Deno.build.os}-${Deno.build.arch}`,
      },
      rules: { source: rules.source },
      norms: [],
      projections: [],
      blocks: [],
      tensors: [],
      probe: null,
      corrections: [],
      warnings,
    };
  const finish = (): ValidationReport => {
    const failed = gates.find((g) => g.status === "fail");
    const exitCode = (failed?.exitCode ?? EXIT.ok) as ExitCode;
    timings.totalMs = performance.now() - started;
    for (const g of gates) timings[`${g.id}Ms`] = g.durationMs;
    return {
      ...report,
      model: { ...model },
      exitCode,
      exitMeaning: EXIT_MEANINGS[exitCode],
      passed: exitCode === EXIT.ok,
      gates,
      timings,
    };
  };

  // Strict mode: refuse before anything is read.
  try {
    assertStrictAllows(env);
    gates.push({
      id: "strict",
      title: TITLES.strict,
      status: "pass",
      exitCode: null,
      summary: env.strict
        ? "strict mode on: no runtime correction setting is present"
        : "strict mode off: correction settings are honoured for triage only",
      durationMs: 0,
      checks: [],
    });
  } catch (e) {
    const message = (e as Error).message;
    gates.push({
      id: "strict",
      title: TITLES.strict,
      status: "fail",
      exitCode: EXIT.strictRefused,
      summary: message,
      durationMs: 0,
      checks: [{ id: "correction_settings", status: "fail", message }],
    });
    gates.push(skipped("norms", TITLES.norms, "not run: strict mode refused the settings"));
    gates.push(
      skipped("projections", TITLES.projections, "not run: strict mode refused the settings"),
    );
    gates.push(
      skipped("linguistic", TITLES.linguistic, "not run: strict mode refused the settings"),
    );
    return finish();
  }

  let gguf: GgufFile;
  try {
    gguf = await openGguf(opts.ggufPath);
  } catch (e) {
    const message = `cannot read ${opts.ggufPath}: ${(e as Error).message}`;
    gates.push({
      id: "norms",
      title: TITLES.norms,
      status: "fail",
      exitCode: EXIT.normInspection,
      summary: message,
      durationMs: 0,
      checks: [{ id: "read", status: "fail", message }],
    });
    gates.push(skipped("projections", TITLES.projections, "not run: the file cannot be read"));
    gates.push(skipped("linguistic", TITLES.linguistic, "not run: the file cannot be read"));
    return finish();
  }

  let engine: InferenceEngine | null = null;
  try {
    // Outside strict mode: which corrections (if any) the engine applies in gate 3. A policy file
    // that cannot be read or parsed is the user's input error and throws (exit 2, 3 or 4).
    const corrections = await resolveCorrections(env, opts.ggufPath, sha256File);
    warnings.push(...corrections.warnings);
    model.sha256 = corrections.sha256;
    model.sizeBytes = gguf.fileSize;
    let hparams: ModelHparams | null = null;
    let hparamsError = "";
    try {
      hparams = readHparams(gguf);
    } catch (e) {
      hparamsError = (e as Error).message;
    }
    try {
      model.architecture = gguf.architecture;
      model.family = hparams?.family ?? archByGgufName(model.architecture, gguf.path).family;
    } catch (e) {
      warnings.push(`architecture unknown (${(e as Error).message}): generic norm envelopes used`);
    }

    // Gate 1.
    progress("gate 1: norm tensors");
    const g1 = await runNormGate(gguf, hparams, model.family, {
      rules,
      ...(opts.metaPath !== undefined ? { metaPath: opts.metaPath } : {}),
    });
    model.metaPath = g1.metaPath;
    if (!g1.metaPath) {
      warnings.push(
        "no meta.json beside the GGUF (or --meta): norm RMS not compared with the export's record",
      );
    }
    gates.push(g1.gate);
    norms = g1.norms;

    // Gate 2.
    progress("gate 2: projections and model loading");
    const t2 = performance.now();
    const g2 = await inspectProjections({ gguf, hparams, hparamsError, rules });
    const checks2: Check[] = [...g2.gate.checks];
    let tokenizer: TextTokenizer | null = null;
    try {
      tokenizer = await TextTokenizer.load({
        ...(opts.tokenizerPath ? { tokenizerJsonPath: opts.tokenizerPath } : {}),
        gguf,
      });
      if (hparams && tokenizer.vocabSize > hparams.vocabSize) {
        throw new Error(
          `the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocabulary is ${hparams.vocabSize}`,
        );
      }
      checks2.push({
        id: "tokenizer",
        status: "pass",
        message: `${tokenizer.vocabSize} tokens${
          opts.tokenizerPath ? `, ${opts.tokenizerPath} agrees with the GGUF` : " (from the GGUF)"
        }`,
      });
    } catch (e) {
      tokenizer = null;
      checks2.push({ id: "tokenizer", status: "fail", message: (e as Error).message });
    }

    const earlierFailure = checks2.some((c) => c.status === "fail");
    if (!earlierFailure && !opts.skipProbe && tokenizer && hparams) {
      const loadStart = performance.now();
      try {
        const need = Math.max(
          tokenizer.encode(prompt).length + maxTokens,
          tokenizer.encode(PROBE_PASSAGE).length,
        );
        const corrector = corrections.corrector;
        const threads = opts.threads ?? env.threads;
        engine = await InferenceEngine.load(gguf, {
          maxContext: Math.min(hparams.contextLength, need + 1),
          ...(threads !== null ? { threads } : {}),
          ...(opts.backend ? { backend: opts.backend } : {}),
          ...(corrector ? { transformNorm: (name, values) => corrector.apply(name, values) } : {}),
        });
        checks2.push({
          id: "engine_load",
          status: "pass",
          message: `loaded on ${engine.backendName} with ${engine.threads} thread(s)${
            engine.ternarizedAtLoad.length
              ? `; ${engine.ternarizedAtLoad.length} projections ternarized at load`
              : ""
          }`,
        });
        if (corrector) report = { ...report, corrections: corrector.applied };
        report = { ...report, environment: { ...report.environment, threads: engine.threads } };
      } catch (e) {
        checks2.push({ id: "engine_load", status: "fail", message: (e as Error).message });
      }
      timings.loadMs = performance.now() - loadStart;
    } else if (!opts.skipProbe) {
      checks2.push({
        id: "engine_load",
        status: "skip",
        message: "not attempted: earlier checks failed",
      });
    }
    const failed2 = checks2.some((c) => c.status === "fail");
    gates.push({
      ...g2.gate,
      status: failed2 ? "fail" : "pass",
      exitCode: failed2 ? EXIT.modelLoad : null,
      summary: failed2
        ? `${checks2.filter((c) => c.status === "fail").length} check(s) failed: ${
          [...new Set(checks2.filter((c) => c.status === "fail").map((c) => c.id))].join(", ")
        }`
        : g2.gate.summary,
      durationMs: performance.now() - t2,
      checks: checks2,
    });

    // Gate 3.
    if (opts.skipProbe) {
      gates.push(skipped("linguistic", TITLES.linguistic, "skipped (--no-probe)"));
    } else if (!engine || !tokenizer) {
      gates.push(skipped("linguistic", TITLES.linguistic, "not run: the model did not load"));
    } else {
      progress("gate 3: linguistic probe");
      const g3 = runLinguisticGate({ engine, tokenizer, prompt, maxTokens, expect, rules });
      gates.push(g3.gate);
      report = { ...report, probe: g3.probe };
    }

    if (opts.against) {
      progress("differential: against the reference model");
      const diff = await runDifferential(gguf, opts.against, {
        ...((opts.threads ?? env.threads) !== null
          ? { threads: (opts.threads ?? env.threads)! }
          : {}),
        ...(opts.backend ? { backend: opts.backend } : {}),
      });
      gates.push(diff.gate);
      if (diff.report) report = { ...report, differential: diff.report };
    }

    const statsByName = new Map<string, TensorStatsEntry>();
    for (const n of norms) if (n.stats) statsByName.set(n.name, n.stats);
    for (const t of g2.tensors) statsByName.set(t.name, t);
    report = {
      ...report,
      norms,
      projections: g2.projections,
      blocks: g2.blocks,
      tensors: gguf.tensors.flatMap((t) => statsByName.get(t.name) ?? []),
    };
    return finish();
  } finally {
    engine?.close();
    gguf.close();
  }
}
