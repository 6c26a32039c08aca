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

import { assertStrictAllows, type BitnetEnv, defaultBitnetEnv } from "../cli/env.ts";
import { EXIT, EXIT_MEANINGS, type ExitCode, messageAbout } from "../errors.ts";
import { type GgufFile, openGguf } from "../gguf/reader.ts";
import type { BackendName } from "../inference/backend.ts";
import { InferenceEngine } from "../inference/engine.ts";
import type { ModelHparams } from "../arch/hparams.ts";
import { runContext } from "../arch/limits.ts";
import { sha256File } from "../io/hash.ts";
import { TOOL } from "../provenance/meta.ts";
import { compareModels, type CompareOptions, type DifferentialReport } from "./differential.ts";
import { EXPECTED_TEXT_NOT_FOUND, PROBE_PASSAGE, runLinguisticGate } from "./linguistic.ts";
import { type NormGateOptions, readModel, runNormGate } from "./norms.ts";
import { type NormCorrector, resolveCorrections } from "./policy.ts";
import { type CountedStatistics, inspectProjections } from "./projections.ts";
import { PayloadCounter } from "../provenance/tensor_stats.ts";
import { GgmlType } from "../gguf/types.ts";
import {
  type Check,
  check,
  failedGate,
  gate,
  type GateId,
  type GateResult,
  REPORT_SCHEMA_ID,
  type TensorStatsEntry,
  type ValidationReport,
} from "./report.ts";
import { DEFAULT_RULES } from "./rules.ts";
import { DEFAULT_PROMPT } from "../inference/probe.ts";
import { type GateTokenizer, SideWorker, type TokenizerOutcome } from "./side_worker.ts";
import { openNativeKernels } from "../inference/kernels/native.ts";

/** New tokens of the probe (greedy), after the one default prompt of lib/inference/probe.ts. */
export const DEFAULT_MAX_TOKENS = 8;

/** Options of {@link validateGguf} (with gate 1's: the meta.json and the rules). */
export interface ValidateOptions extends NormGateOptions {
  readonly ggufPath: string;
  /** A tokenizer.json that must agree with the GGUF's tokenizer; default the GGUF's own. */
  readonly tokenizerPath?: string | null;
  readonly prompt?: string;
  readonly maxTokens?: number;
  /** A substring the generated text must contain. */
  readonly expect?: string | null;
  /** The BITNET_* settings (the task reads them); default: none set. */
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

/** A gate that did not run, and why. */
const skipped = (id: GateId, why: string) => gate(id, { status: "skip", summary: why });

/** Engine settings shared by every model the validation loads. */
type EngineSettings = NonNullable<CompareOptions["engine"]>;

/**
 * The differential gate: the candidate's next-token distributions against the
 * reference's (lib/validate/differential.ts). A reference that cannot be read is
 * a failure of this gate (13), never an exception.
 */
async function runDifferential(
  candidate: GgufFile,
  referencePath: string,
  engine: EngineSettings,
): Promise<{ gate: GateResult; report: DifferentialReport | null }> {
  const t0 = performance.now();
  let reference: GgufFile;
  try {
    reference = await openGguf(referencePath);
  } catch (e) {
    const message = `the reference: ${messageAbout(referencePath, e)}`;
    const failed = failedGate("differential", EXIT.modelLoad, "reference", message, t0);
    return { gate: failed, report: null };
  }
  try {
    const d = await compareModels(candidate, reference, { engine });
    const o = d.overall;
    const summary = o
      ? `top-1 agreement ${
        (100 * o.stableTop1Agreement).toFixed(1)
      }% on ${o.stablePositions} stable positions, mean KL ${
        o.meanKl.toExponential(2)
      }, passage NLL ${o.passageNllIncrease >= 0 ? "+" : ""}${o.passageNllIncrease.toFixed(4)}`
      : d.checks.find((c) => c.status === "fail")?.message ?? d.status;
    const outcome = { exitCode: d.exitCode, summary, checks: d.checks, started: t0 };
    return { gate: gate("differential", outcome), report: d };
  } finally {
    reference.close();
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type Verdict = "exitCode" | "exitMeaning" | "passed" | "gates" | "timings";

/** The report so far: every part but the gates, their timings and the verdict. */
type ReportSoFar = Mutable<Omit<ValidationReport, "model" | "warnings" | Verdict>> & {
  readonly model: Mutable<ValidationReport["model"]>;
  readonly warnings: string[];
};

/** The report being filled in, gate by gate. */
type Run = ReturnType<typeof newRun>;

function newRun(opts: ValidateOptions) {
  const env = opts.env ?? defaultBitnetEnv();
  const rules = opts.rules ?? DEFAULT_RULES;
  const threads = opts.threads ?? env.threads;
  const report: ReportSoFar = {
    schema: REPORT_SCHEMA_ID,
    tool: { name: TOOL.name, version: TOOL.version },
    model: {
      path: opts.ggufPath,
      sizeBytes: null,
      architecture: null,
      family: null,
      sha256: null,
      metaPath: null,
      tokenizerPath: opts.tokenizerPath ?? null,
    },
    environment: {
      strict: env.strict,
      deterministic: env.deterministic,
      seed: env.seed,
      threads,
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
    warnings: [],
  };
  return {
    opts,
    env,
    rules,
    prompt: opts.prompt ?? DEFAULT_PROMPT,
    maxTokens: opts.maxTokens ?? DEFAULT_MAX_TOKENS,
    gates: [] as GateResult[],
    timings: {} as Record<string, number>,
    report,
    engine: {
      ...(threads !== null ? { threads } : {}),
      ...(opts.backend ? { backend: opts.backend } : {}),
      ...(env.nativeKernels !== null ? { nativeKernels: env.nativeKernels } : {}),
    },
    started: performance.now(),
    /** The runtime corrections the engine applies to the norms (triage only), or null. */
    corrector: null as NormCorrector | null,
    /** Gate 3 failed only on the `--expect` text. */
    expectOnly: false,
    /** The tokenizer being built on a worker thread since the start (gate 2 checks it). */
    side: null as SideWorker | null,
  };
}

/** The report: the first failing gate's exit code, or 0. */
function finish(run: Run): ValidationReport {
  const failed = run.gates.find((g) => g.status === "fail");
  const exitCode = (failed?.exitCode ?? EXIT.ok) as ExitCode;
  run.timings.totalMs = performance.now() - run.started;
  for (const g of run.gates) run.timings[`${g.id}Ms`] = g.durationMs;
  return {
    ...run.report,
    model: { ...run.report.model },
    exitCode,
    exitMeaning: failed?.id === "linguistic" && run.expectOnly
      ? `${EXPECTED_TEXT_NOT_FOUND} (--expect)`
      : EXIT_MEANINGS[exitCode],
    passed: exitCode === EXIT.ok,
    gates: run.gates,
    timings: run.timings,
  };
}

/** Strict mode: refuse before anything is read. False when it refused. */
function strictGate(run: Run): boolean {
  try {
    assertStrictAllows(run.env);
  } catch (e) {
    const why = "not run: strict mode refused the settings";
    const message = (e as Error).message;
    run.gates.push(failedGate("strict", EXIT.strictRefused, "correction_settings", message));
    run.gates.push(skipped("norms", why), skipped("projections", why), skipped("linguistic", why));
    return false;
  }
  const summary = run.env.strict
    ? "strict mode on: no runtime correction setting is present"
    : "strict mode off: correction settings are honoured for triage only";
  run.gates.push(gate("strict", { summary }));
  return true;
}

/** The hyper-parameters (null, with the reason, when unreadable) and the family for the envelopes. */
function modelOf(run: Run, gguf: GgufFile): { hparams: ModelHparams | null; error: string } {
  const m = readModel(gguf);
  run.report.model.architecture = m.architecture;
  run.report.model.family = m.family;
  if (m.familyError !== null) {
    const why = (m.familyError as Error).message;
    run.report.warnings.push(`architecture unknown (${why}): generic norm envelopes used`);
  }
  return { hparams: m.hparams, error: m.hparamsError ? (m.hparamsError as Error).message : "" };
}

/** A tokenizer that passed gate 2's check, or null, with the check. */
type TokenizerCheck = { tokenizer: GateTokenizer | null; check: Check };

/** The tokenizer (the GGUF's own, checked against --tokenizer) and its gate-2 check. */
async function loadTokenizer(
  run: Run,
  outcome: Promise<TokenizerOutcome>,
  hparams: ModelHparams | null,
): Promise<TokenizerCheck> {
  const path = run.opts.tokenizerPath;
  const loaded = await outcome;
  if ("error" in loaded) {
    return { tokenizer: null, check: check("fail", "tokenizer", loaded.error) };
  }
  const { tokenizer } = loaded;
  if (hparams && tokenizer.vocabSize > hparams.vocabSize) {
    const message =
      `the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocabulary is ${hparams.vocabSize}`;
    return { tokenizer: null, check: check("fail", "tokenizer", message) };
  }
  const from = path ? `, ${path} agrees with the GGUF` : " (from the GGUF)";
  return { tokenizer, check: check("pass", "tokenizer", `${tokenizer.vocabSize} tokens${from}`) };
}

/**
 * The side worker (lib/validate/side_worker.ts): it builds the tokenizer and
 * encodes gate 3's texts from the start, on a thread of its own.
 */
function sideWorker(run: Run): SideWorker {
  return run.side ??= SideWorker.start({
    ggufPath: run.opts.ggufPath,
    tokenizerPath: run.opts.tokenizerPath ?? null,
    texts: [run.prompt, PROBE_PASSAGE],
  });
}

/** The float matrices whose statistics the side worker computes: see {@link asideNames}. */
const ASIDE_MATRICES: ReadonlySet<string> = new Set(["token_embd.weight", "output.weight"]);

/**
 * The matrices whose statistics the side worker computes from its own read of
 * the file instead of the main thread from the load's: the embedding and
 * output matrices of a 16-bit type large enough for a bit-pattern histogram
 * (BitNet 2B's 656 MB embedding: half a second of the main thread). The
 * projections stay with the load, which hands their counts over for free
 * when they are ternary.
 */
function asideNames(gguf: GgufFile): string[] {
  return gguf.tensors.filter((t) =>
    ASIDE_MATRICES.has(t.name) && (t.type === GgmlType.F16 || t.type === GgmlType.BF16) &&
    PayloadCounter.for(t) !== undefined
  ).map((t) => t.name);
}

/** The positions gate 3 needs: the prompt and its new tokens, or the NLL passage. */
function probeNeed(run: Run, tokenizer: GateTokenizer): number {
  return Math.max(
    tokenizer.encode(run.prompt).length + run.maxTokens,
    tokenizer.encode(PROBE_PASSAGE).length,
  );
}

/**
 * At least {@link probeNeed}, from the texts alone: a BPE token stands for at
 * least one byte of the text (byte-level pieces, SentencePiece byte
 * fallback), plus the BOS and SentencePiece's ▁ prefix. It sizes the engine
 * while the tokenizer is still being built; a tokenizer that needs more
 * (a normalizer that expands text) gets the engine loaded again.
 */
function probeNeedBound(run: Run): number {
  return Math.max(tokenCountBound(run.prompt) + run.maxTokens, tokenCountBound(PROBE_PASSAGE));
}

/**
 * An upper bound on the number of ids a byte-level BPE or SentencePiece
 * tokenizer gives `text` with its BOS: one per UTF-8 byte, plus the BOS and
 * SentencePiece's ▁ prefix. Gate 3's engine is sized with it while the
 * tokenizer is still being built (tests/validate/token_bound_test.ts holds it
 * to llama.cpp's Llama-3 and Llama-2 test vectors).
 *
 * @example
 * ```ts
 * tokenCountBound("Hello"); // 7
 * ```
 */
export function tokenCountBound(text: string): number {
  return new TextEncoder().encode(text).length + 2;
}

/**
 * The engine load of gate 3 for a given context (the corrections applied to the norms in
 * memory, gate 2's statistics counted from the bytes read, except the `aside` tensors whose
 * statistics the side worker computes), and `restart`: back to the state before a load, so
 * that a second load counts and corrects again.
 */
function engineLoader(
  run: Run,
  gguf: GgufFile,
  counted: Map<string, CountedStatistics>,
  aside: ReadonlySet<string>,
) {
  const { corrector } = run;
  const corrected = corrector?.applied.length ?? 0;
  const load = (maxContext: number) =>
    InferenceEngine.load(gguf, {
      maxContext,
      ...run.engine,
      ...(corrector ? { transformNorm: (name, values) => corrector.apply(name, values) } : {}),
      // Gate 3's NLL needs every logit of many positions: the F16 output matrix stays resident.
      int8Head: false,
      // Gate 2's statistics from the bytes the load reads: each projection is read once.
      observe: (info) => {
        if (aside.has(info.name)) return undefined;
        const counter = PayloadCounter.for(info);
        if (!counter) return undefined;
        counted.set(info.name, counter);
        return {
          bytes: (bytes, start) => counter.add(bytes, start),
          ternary: (counts) => counter.addTernary(counts),
        };
      },
    });
  /** Back to the state before a load: a second load counts and corrects again. */
  const restart = () => {
    counted.clear();
    if (corrector) corrector.applied.length = corrected;
  };
  return { load, restart };
}

/**
 * Loads the engine for gate 3, with the corrections (if any) applied to the
 * norms in memory, and fills `counted` with the statistics of the bytes it
 * reads. The tokenizer is still being built on its worker: the engine is
 * sized for {@link probeNeedBound} positions unless the tokenizer is already
 * known (then for exactly its {@link probeNeed}, as before). The context only
 * sizes the KV cache: every computed value is the same. A tokenizer that
 * failed gate 2's check leaves the engine closed (the gate reports it).
 */
async function loadEngine(
  run: Run,
  gguf: GgufFile,
  hparams: ModelHparams,
  tokenizer: { now: TokenizerCheck | null; later: Promise<TokenizerCheck> },
  counted: Map<string, CountedStatistics>,
  aside: ReadonlySet<string>,
): Promise<{ engine: InferenceEngine | null; check: Check }> {
  const loadStart = performance.now();
  const { corrector } = run;
  const { load, restart } = engineLoader(run, gguf, counted, aside);
  /** The engine's context for `need` positions of gate 3. */
  const context = (need: number) => runContext(hparams.contextLength, need + 1);
  let engine: InferenceEngine | null = null;
  try {
    const known = tokenizer.now?.tokenizer;
    if (known) engine = await load(context(probeNeed(run, known)));
    else if (tokenizer.now === null) {
      const bound = context(probeNeedBound(run));
      try {
        engine = await load(bound);
      } catch {
        // Whatever the bound changed (the memory it asks for) must not change the outcome:
        // the load is retried below with the tokenizer's own count, which reports as before.
        restart();
        engine = null;
      }
    }
    const { tokenizer: ready } = await tokenizer.later;
    if (!ready) {
      engine?.close();
      return {
        engine: null,
        check: check("skip", "engine_load", "not used: earlier checks failed"),
      };
    }
    const exact = context(probeNeed(run, ready));
    if (engine && engine.maxContext < exact) {
      engine.close();
      engine = null;
      restart();
    }
    engine ??= await load(exact);
    const ternarized = engine.ternarizedAtLoad.length;
    const message = `loaded on ${engine.backendName} with ${engine.threads} thread(s)${
      ternarized ? `; ${ternarized} projections ternarized at load` : ""
    }`;
    if (corrector) run.report.corrections = corrector.applied;
    run.report.environment = { ...run.report.environment, threads: engine.threads };
    return { engine, check: check("pass", "engine_load", message) };
  } catch (e) {
    engine?.close();
    return { engine: null, check: check("fail", "engine_load", (e as Error).message) };
  } finally {
    run.timings.loadMs = performance.now() - loadStart;
  }
}

/**
 * Gate 2: the projections, the tokenizer and the engine load; returns what
 * gate 3 needs. When the matrices have the expected shapes and the tokenizer
 * loads, the engine is loaded first and the projections' statistics are
 * counted from the bytes it reads; if a statistic then fails a check, the
 * engine is closed unused.
 */
async function projectionGate(
  run: Run,
  gguf: GgufFile,
  model: { hparams: ModelHparams | null; error: string },
) {
  const t2 = performance.now();
  const { hparams } = model;
  const input = { gguf, hparams, hparamsError: model.error, rules: run.rules };
  // The tokenizer is built on its worker meanwhile; the engine loads unless it already failed.
  const later = loadTokenizer(run, sideWorker(run).outcome(gguf), hparams);
  const tokenizerNow: { now: TokenizerCheck | null; later: Promise<TokenizerCheck> } = {
    now: null,
    later,
  };
  later.then((t) => tokenizerNow.now = t);
  const counted = new Map<string, CountedStatistics>();
  const load: { loaded?: Awaited<ReturnType<typeof loadEngine>> } = {};
  const beforeValues = !run.opts.skipProbe && hparams
    ? async () => {
      if (tokenizerNow.now && !tokenizerNow.now.tokenizer) return counted;
      const aside = asideNames(gguf);
      const elsewhere = sideWorker(run).stats(aside);
      load.loaded = await loadEngine(run, gguf, hparams, tokenizerNow, counted, new Set(aside));
      const stats = await elsewhere;
      // A null (the worker could not) is read again by inspectProjections, as before.
      aside.forEach((name, i) => counted.set(name, { result: () => stats[i] ?? undefined }));
      return counted;
    }
    : undefined;
  const g2 = await inspectProjections({ ...input, ...(beforeValues ? { beforeValues } : {}) });
  const { tokenizer, check: tokenizerCheck } = await later;
  const { loaded } = load;
  const checks: Check[] = [...g2.gate.checks, tokenizerCheck];
  let engine = loaded?.engine ?? null;
  if (checks.some((c) => c.status === "fail")) {
    engine?.close();
    engine = null;
    if (!run.opts.skipProbe) {
      checks.push(check("skip", "engine_load", "not used: earlier checks failed"));
    }
  } else if (loaded) checks.push(loaded.check);
  const failed = checks.filter((c) => c.status === "fail");
  run.gates.push(gate("projections", {
    exitCode: failed.length ? EXIT.modelLoad : null,
    summary: failed.length
      ? `${failed.length} check(s) failed: ${[...new Set(failed.map((c) => c.id))].join(", ")}`
      : g2.gate.summary,
    started: t2,
    checks,
  }));
  return { g2, tokenizer, engine };
}

/** Gates 1 to 3 (and the differential) over an open file. */
async function runGates(run: Run, gguf: GgufFile): Promise<InferenceEngine | null> {
  const { opts } = run;
  // Outside strict mode: which corrections (if any) the engine applies in gate 3. A policy file
  // that cannot be read or parsed is the user's input error and throws (exit 2, 3 or 4).
  const corrections = await resolveCorrections(run.env, opts.ggufPath, sha256File);
  run.report.warnings.push(...corrections.warnings);
  run.report.model.sha256 = corrections.sha256;
  run.corrector = corrections.corrector;
  run.report.model.sizeBytes = gguf.fileSize;
  const model = modelOf(run, gguf);

  opts.onProgress?.("gate 1: norm tensors");
  const g1 = await runNormGate(gguf, model.hparams, run.report.model.family, opts);
  run.report.model.metaPath = g1.metaPath;
  if (!g1.metaPath) {
    run.report.warnings.push(
      "no meta.json beside the GGUF (or --meta): norm RMS not compared with the export's record",
    );
  }
  run.gates.push(g1.gate);

  opts.onProgress?.("gate 2: projections and model loading");
  const { g2, tokenizer, engine } = await projectionGate(run, gguf, model);

  if (opts.skipProbe) run.gates.push(skipped("linguistic", "skipped (--no-probe)"));
  else if (!engine || !tokenizer) {
    run.gates.push(skipped("linguistic", "not run: the model did not load"));
  } else {
    opts.onProgress?.("gate 3: linguistic probe");
    const { prompt, maxTokens, rules } = run, expect = opts.expect ?? null;
    const g3 = await runLinguisticGate({ engine, tokenizer, prompt, maxTokens, expect, rules });
    run.gates.push(g3.gate);
    run.report.probe = g3.probe;
    run.expectOnly = g3.expectOnly;
  }

  if (opts.against) {
    opts.onProgress?.("differential: against the reference model");
    const diff = await runDifferential(gguf, opts.against, run.engine);
    run.gates.push(diff.gate);
    if (diff.report) run.report.differential = diff.report;
  }

  const statsByName = new Map<string, TensorStatsEntry>();
  for (const n of g1.norms) if (n.stats) statsByName.set(n.name, n.stats);
  for (const t of g2.tensors) statsByName.set(t.name, t);
  const tensors = gguf.tensors.flatMap((t) => statsByName.get(t.name) ?? []);
  const found = { norms: g1.norms, projections: g2.projections, blocks: g2.blocks, tensors };
  Object.assign(run.report, found satisfies Partial<Run["report"]>);
  return engine;
}

/**
 * Runs every gate and returns the report. Expected failures never throw: they
 * are gates with an exit code. Only bugs, unreadable or malformed correction
 * policy files, and a BITNET_NATIVE_KERNELS library that cannot be used throw
 * (UsageError, InputError, FormatError, UnsupportedError): a problem of the
 * run's setting, not a verdict on the model.
 *
 * @example
 * ```ts
 * const r = await validateGguf({ ggufPath: "model.gguf" });
 * Deno.exit(r.exitCode);
 * ```
 */
export async function validateGguf(opts: ValidateOptions): Promise<ValidationReport> {
  const run = newRun(opts);
  if (!strictGate(run)) return finish(run);
  if (run.env.nativeKernels !== null) openNativeKernels(run.env.nativeKernels).close();
  // The tokenizer takes about a second to build: its worker starts before anything else is read.
  const side = sideWorker(run);
  let gguf: GgufFile;
  try {
    gguf = await openGguf(opts.ggufPath);
  } catch (e) {
    side.close();
    const message = messageAbout(opts.ggufPath, e);
    const why = "not run: the file cannot be read";
    run.gates.push(failedGate("norms", EXIT.normInspection, "read", message));
    run.gates.push(skipped("projections", why), skipped("linguistic", why));
    return finish(run);
  }
  let engine: InferenceEngine | null = null;
  try {
    engine = await runGates(run, gguf);
    return finish(run);
  } finally {
    side.close();
    engine?.close();
    gguf.close();
  }
}
