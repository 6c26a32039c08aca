/**
 * Differential validation: does a quantized model compute what its float
 * source computes? Both models run, teacher-forced, on the same token
 * sequences — the probe prompt followed by the REFERENCE's greedy
 * continuation (so one early disagreement cannot derail every later
 * position), and the shipped English passage — and every position's
 * next-token distribution is compared:
 *
 * - top-1 agreement, over all positions and over the "stable" ones (where the
 *   reference's top-1/top-2 logit gap is at least `stableMargin`; nearer ties
 *   may flip between two correct engines, docs/reference/formats.md, "BitNet b1.58 forward pass");
 * - KL(P_reference ‖ P_candidate) per position, in nats, and its mean;
 * - the mean NLL of each model on each sequence.
 *
 * The thresholds are declared below with their reasons. Exit codes: 13 when
 * the models cannot be compared (one fails to load; shapes or vocabularies
 * differ), 15 when a threshold fails (the candidate's outputs depart from the
 * reference's).
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * import { compareModels } from "./differential.ts";
 * const candidate = await openGguf("models/clean/clean-i2_s.gguf");
 * const reference = await openGguf("models/clean/clean-f16.gguf");
 * const report = await compareModels(candidate, reference);
 * for (const c of report.checks) console.log(c.status, c.id, c.message);
 * Deno.exitCode = report.exitCode ?? 0;
 * ```
 * @module
 */

import { percent } from "../cli/report_style.ts";
import { CleanGgufError, EXIT, UsageError } from "../errors.ts";
import type { GgufFile } from "../gguf/reader.ts";
import { Keys } from "../gguf/keys.ts";
import type { BackendName } from "../inference/backend.ts";
import { InferenceEngine } from "../inference/engine.ts";
import { DEFAULT_PROMPT } from "../inference/probe.ts";
import { logSoftmax } from "../inference/softmax.ts";
import { type ModelHparams, readHparams } from "../arch/hparams.ts";
import { TextTokenizer } from "../tokenizer/tokenizer.ts";
import { PROBE_PASSAGE } from "./linguistic.ts";
import { type Check, check } from "./report.ts";

/** The differential report format identifier (bump on incompatible changes). */
export const DIFFERENTIAL_SCHEMA_ID = "clean-gguf/differential-report/1";

/** Greedy tokens of the reference appended to the prompt. */
export const DEFAULT_PROBE_TOKENS = 16;

/**
 * The declared thresholds, each with its reason.
 *
 * @example
 * ```ts
 * DIFFERENTIAL_THRESHOLDS.maxMeanKl.value; // 0.001
 * ```
 */
export const DIFFERENTIAL_THRESHOLDS = {
  /** A position is stable when the reference's top-1/top-2 logit gap is at least this. */
  stableMargin: {
    value: 0.1,
    reason:
      "int8 activation quantization is a step function: correct engines differ by a few 1e-2 in a logit, so only gaps of 0.1 or more are decisive (the fixtures' greedy_stable_prefix_len uses the same 0.1)",
  },
  /** Smallest share of stable positions where both models pick the same top-1 token. */
  minStableTop1Agreement: {
    value: 1,
    reason:
      "packing exact ternary weights loses nothing: a faithful quantization picks the reference's token at every decisive position",
  },
  /** Largest mean KL(P_reference ‖ P_candidate) over all positions, in nats. */
  maxMeanKl: {
    value: 1e-3,
    reason:
      "I2_S/TQ of an already-ternary model changes at most the f16 rounding of one scale per tensor; damaged codes or scales move the distributions far more than 1e-3 nats",
  },
  /** Largest increase of the candidate's mean NLL on the passage over the reference's, nats/token. */
  maxNllIncrease: {
    value: 0.02,
    reason:
      "a 0.02 nats/token rise (2% perplexity) on plain English is already a visible loss of quality for a model that should be unchanged",
  },
} as const satisfies Record<string, { readonly value: number; readonly reason: string }>;

/** The pass/fail thresholds (see {@link DIFFERENTIAL_THRESHOLDS} for what each means). */
export type DifferentialThresholds = {
  readonly [K in keyof typeof DIFFERENTIAL_THRESHOLDS]: number;
};

/** The threshold values alone. */
export const DEFAULT_DIFFERENTIAL_THRESHOLDS = Object.fromEntries(
  Object.entries(DIFFERENTIAL_THRESHOLDS).map(([k, v]) => [k, v.value]),
) as unknown as DifferentialThresholds;

/** Options of {@link compareModels}. */
export interface CompareOptions {
  /** Default {@link DEFAULT_PROMPT}. */
  readonly prompt?: string;
  /** Reference greedy tokens appended to the prompt; default {@link DEFAULT_PROBE_TOKENS}. */
  readonly probeTokens?: number;
  /** Default the shipped passage (lib/validate/linguistic.ts). */
  readonly passage?: string;
  /** Default: the reference GGUF's own tokenizer. */
  readonly tokenizer?: { encode(text: string): number[] };
  /** Overrides of {@link DEFAULT_DIFFERENTIAL_THRESHOLDS}. */
  readonly thresholds?: Partial<DifferentialThresholds>;
  /** Engine options for both models. */
  readonly engine?: { readonly backend?: BackendName; readonly threads?: number };
}

/** A stable position where the two models chose different tokens. */
export interface Disagreement {
  /** Index in the sequence of the token whose logits these are. */
  readonly position: number;
  readonly reference: number;
  readonly candidate: number;
  /** The reference's top-1/top-2 logit gap there. */
  readonly margin: number;
}

/** The comparison over one token sequence. */
export type SegmentComparison = ReturnType<typeof compareSegment>;

/** Everything {@link compareModels} found. */
export interface DifferentialReport {
  readonly schema: typeof DIFFERENTIAL_SCHEMA_ID;
  readonly candidate: string;
  readonly reference: string;
  readonly status: "pass" | "fail";
  /** 13 (cannot compare) or 15 (outputs depart); null when passed. */
  readonly exitCode: number | null;
  readonly thresholds: DifferentialThresholds;
  readonly segments: readonly SegmentComparison[];
  /** Over both segments (see {@link differentialChecks}); null when the models were not compared. */
  readonly overall: ReturnType<typeof differentialChecks>["overall"] | null;
  readonly checks: readonly Check[];
  readonly durationMs: number;
}

interface Sequence {
  readonly id: "probe" | "passage";
  readonly text: string;
  readonly ids: number[];
  /** First logit row compared. */
  readonly firstRow: number;
}

/** Index of the largest value (lowest index on ties) and the gap to the second largest. */
function top2(row: Float32Array): { id: number; margin: number } {
  let a = -Infinity, b = -Infinity, id = 0;
  for (let i = 0; i < row.length; i++) {
    const v = row[i]!;
    if (v > a) {
      b = a;
      a = v;
      id = i;
    } else if (v > b) b = v;
  }
  return { id, margin: a - b };
}

function compareSegment(
  seq: Sequence,
  ref: Float32Array,
  cand: Float32Array,
  vocab: number,
  t: DifferentialThresholds,
) {
  const lr = new Float64Array(vocab), lc = new Float64Array(vocab);
  const rows = seq.ids.length - 1 - seq.firstRow;
  let stable = 0, agree = 0, agreeStable = 0, klSum = 0, klMax = 0, klMaxAt = seq.firstRow;
  let nllRef = 0, nllCand = 0;
  const disagreements: Disagreement[] = [];
  for (let r = seq.firstRow; r < seq.ids.length - 1; r++) {
    const rowRef = ref.subarray(r * vocab, (r + 1) * vocab);
    const rowCand = cand.subarray(r * vocab, (r + 1) * vocab);
    logSoftmax(rowRef, lr);
    logSoftmax(rowCand, lc);
    let kl = 0;
    for (let i = 0; i < vocab; i++) {
      const p = Math.exp(lr[i]!);
      if (p > 0) kl += p * (lr[i]! - lc[i]!);
    }
    kl = Math.max(kl, 0);
    klSum += kl;
    if (kl > klMax) {
      klMax = kl;
      klMaxAt = r;
    }
    const next = seq.ids[r + 1]!;
    nllRef -= lr[next]!;
    nllCand -= lc[next]!;
    const a = top2(rowRef), b = top2(rowCand);
    const same = a.id === b.id;
    if (same) agree++;
    if (a.margin >= t.stableMargin) {
      stable++;
      if (same) agreeStable++;
      else if (disagreements.length < 10) {
        disagreements.push({ position: r, reference: a.id, candidate: b.id, margin: a.margin });
      }
    }
  }
  return {
    id: seq.id,
    text: seq.text,
    /** Token ids run through both models (BOS included). */
    ids: seq.ids,
    /** Positions compared (each predicts the next token of the sequence). */
    positions: rows,
    stablePositions: stable,
    /** Share of all positions with the same top-1 token. */
    top1Agreement: rows ? agree / rows : 1,
    /** Share of stable positions with the same top-1 token (1 when there are none). */
    stableTop1Agreement: stable ? agreeStable / stable : 1,
    meanKl: rows ? klSum / rows : 0,
    maxKl: klMax,
    maxKlPosition: klMaxAt,
    /** Mean NLL of the sequence's next tokens, nats/token. */
    referenceNll: rows ? nllRef / rows : 0,
    candidateNll: rows ? nllCand / rows : 0,
    /** Stable positions where the top-1 tokens differ (the first 10). */
    disagreements,
  };
}

/** Loads a model, runs `use`, always frees the engine. */
async function withEngine<T>(
  gguf: GgufFile,
  opts: CompareOptions["engine"] & { maxContext: number },
  use: (e: InferenceEngine) => T,
): Promise<T> {
  const engine = await InferenceEngine.load(gguf, {
    maxContext: opts.maxContext,
    int8Head: false, // KL and NLL need every logit: the F16 output matrix stays resident
    ...(opts.backend ? { backend: opts.backend } : {}),
    ...(opts.threads ? { threads: opts.threads } : {}),
  });
  try {
    return use(engine);
  } finally {
    engine.close();
  }
}

const fmt = (x: number, digits = 3) =>
  Math.abs(x) < 1e-3 && x !== 0 ? x.toExponential(2) : x.toFixed(digits);

/** The hyper-parameters of both models, or why they cannot be compared. */
function comparable(candidate: GgufFile, reference: GgufFile): Check | { ref: ModelHparams } {
  let r: ModelHparams, c: ModelHparams;
  try {
    r = readHparams(reference);
    c = readHparams(candidate);
  } catch (e) {
    if (!(e instanceof CleanGgufError)) throw e;
    return check("fail", "differential.load", e.message);
  }
  const mismatch = (why: string) => check("fail", "differential.compatible", why);
  if (c.vocabSize !== r.vocabSize) {
    return mismatch(
      `vocabularies differ: ${candidate.path} has ${c.vocabSize} tokens, ${reference.path} has ${r.vocabSize}`,
    );
  }
  const ct = candidate.kv(Keys.tokenizer.tokens)?.value;
  const rt = reference.kv(Keys.tokenizer.tokens)?.value;
  if (Array.isArray(ct) && Array.isArray(rt)) {
    const i = ct.findIndex((tok, k) => tok !== rt[k]);
    if (i >= 0 || ct.length !== rt.length) {
      const at = i >= 0 ? i : Math.min(ct.length, rt.length);
      return mismatch(
        `token strings differ (first at id ${at}): the models do not share a tokenizer`,
      );
    }
  }
  return { ref: { ...r, contextLength: Math.min(r.contextLength, c.contextLength) } };
}

/** The probe (prompt + the reference's greedy continuation) and the passage, as token ids. */
function sequencesOf(
  tokenizer: { encode(text: string): number[] },
  opts: CompareOptions,
  context: number,
) {
  const probeTokens = opts.probeTokens ?? DEFAULT_PROBE_TOKENS;
  if (!Number.isSafeInteger(probeTokens) || probeTokens < 1) {
    throw new UsageError(`probeTokens must be a positive integer, got ${probeTokens}`);
  }
  const prompt = opts.prompt ?? DEFAULT_PROMPT, passage = opts.passage ?? PROBE_PASSAGE;
  const promptIds = tokenizer.encode(prompt);
  const passageIds = tokenizer.encode(passage).slice(0, context);
  if (promptIds.length < 1 || promptIds.length + probeTokens > context || passageIds.length < 2) {
    // generate() stops early only at a full context, which this excludes.
    throw new UsageError(
      `the probe (${promptIds.length} + ${probeTokens} tokens) and passage (${passageIds.length} tokens) must fit in ${context} positions`,
    );
  }
  return { prompt, passage, promptIds, passageIds, probeTokens };
}

/** Runs the reference (greedy probe, then every position) and the candidate on the same ids. */
async function runBoth(
  candidate: GgufFile,
  reference: GgufFile,
  seqs: ReturnType<typeof sequencesOf>,
  engine: CompareOptions["engine"],
) {
  const maxContext = Math.max(seqs.promptIds.length + seqs.probeTokens, seqs.passageIds.length);
  const engineOpts = { ...engine, maxContext };
  let sequences: Sequence[] = [];
  let refLogits: Float32Array[] = [];
  const stage = { path: reference.path };
  try {
    await withEngine(reference, engineOpts, (e) => {
      const gen = e.generate(seqs.promptIds, { maxTokens: seqs.probeTokens });
      // Row r predicts ids[r + 1]: rows P-1 … P+G-2 are the G greedy choices.
      const probeIds = [...seqs.promptIds, ...gen.ids], firstRow = seqs.promptIds.length - 1;
      sequences = [
        { id: "probe", text: seqs.prompt, ids: probeIds, firstRow },
        { id: "passage", text: seqs.passage, ids: seqs.passageIds, firstRow: 0 },
      ];
      refLogits = sequences.map((s) => e.forwardAll(s.ids));
    });
    stage.path = candidate.path;
    const candLogits = await withEngine(
      candidate,
      engineOpts,
      (e) => sequences.map((s) => e.forwardAll(s.ids)),
    );
    return { sequences, refLogits, candLogits };
  } catch (e) {
    if (!(e instanceof CleanGgufError)) throw e;
    return check("fail", "differential.load", `${stage.path}: ${e.message}`);
  }
}

/**
 * The three checks over the compared segments (top-1 agreement, mean KL, passage NLL), and the
 * overall figures: `passageNllIncrease` is the candidate's mean passage NLL minus the reference's.
 */
function differentialChecks(segments: SegmentComparison[], t: DifferentialThresholds) {
  const positions = segments.reduce((a, s) => a + s.positions, 0);
  const stablePositions = segments.reduce((a, s) => a + s.stablePositions, 0);
  const agreeStable = segments.reduce((a, s) => a + s.stableTop1Agreement * s.stablePositions, 0);
  const stableTop1Agreement = stablePositions ? agreeStable / stablePositions : 1;
  const meanKl = segments.reduce((a, s) => a + s.meanKl * s.positions, 0) / positions;
  const pass = segments.find((s) => s.id === "passage")!;
  const passageNllIncrease = pass.candidateNll - pass.referenceNll;
  const disagreeText = segments.flatMap((s) =>
    s.disagreements.map((d) =>
      `${s.id} position ${d.position}: ${d.reference} vs ${d.candidate} (gap ${
        d.margin.toFixed(2)
      })`
    )
  ).slice(0, 5).join("; ");
  const worst = segments.reduce((a, s) => (s.maxKl > a.maxKl ? s : a));
  const at = worst.maxKl > 0 ? ` at ${worst.id} position ${worst.maxKlPosition}` : "";
  const sign = passageNllIncrease >= 0 ? "+" : "";
  const checks: Check[] = [
    check(
      stableTop1Agreement >= t.minStableTop1Agreement ? "pass" : "fail",
      "differential.top1",
      `top-1 agreement ${
        percent(stableTop1Agreement)
      } on ${stablePositions} stable positions (reference gap >= ${t.stableMargin}); need >= ${
        percent(t.minStableTop1Agreement)
      }${disagreeText ? `; differs at ${disagreeText}` : ""}`,
    ),
    check(
      meanKl <= t.maxMeanKl ? "pass" : "fail",
      "differential.kl",
      `mean KL(reference || candidate) ${fmt(meanKl)} nats over ${positions} positions (max ${
        fmt(worst.maxKl)
      }${at}); need <= ${fmt(t.maxMeanKl)}`,
    ),
    check(
      passageNllIncrease <= t.maxNllIncrease ? "pass" : "fail",
      "differential.nll",
      `passage NLL ${pass.candidateNll.toFixed(4)} (candidate) vs ${
        pass.referenceNll.toFixed(4)
      } (reference) nats/token: ${sign}${fmt(passageNllIncrease, 4)}; need <= +${t.maxNllIncrease}`,
    ),
  ];
  return {
    checks,
    overall: { positions, stablePositions, stableTop1Agreement, meanKl, passageNllIncrease },
  };
}

/**
 * Runs both models and compares them (see the module comment). Never throws
 * for a model that fails to load or does not match: that is a failed report
 * with exit code 13. Bad options are a {@link UsageError}.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * const candidate = await openGguf("models/clean/clean-i2_s.gguf");
 * const reference = await openGguf("models/clean/clean-f16.gguf");
 * const report = await compareModels(candidate, reference, { thresholds: { maxMeanKl: 1e-2 } });
 * report.overall?.meanKl;
 * ```
 */
export async function compareModels(
  candidate: GgufFile,
  reference: GgufFile,
  opts: CompareOptions = {},
): Promise<DifferentialReport> {
  const started = performance.now();
  const t: DifferentialThresholds = { ...DEFAULT_DIFFERENTIAL_THRESHOLDS, ...opts.thresholds };
  const report = (
    exitCode: number | null,
    found: Pick<DifferentialReport, "segments" | "overall" | "checks">,
  ): DifferentialReport => ({
    schema: DIFFERENTIAL_SCHEMA_ID,
    candidate: candidate.path,
    reference: reference.path,
    status: exitCode === null ? "pass" : "fail",
    exitCode,
    thresholds: t,
    ...found,
    durationMs: performance.now() - started,
  });
  // Models that cannot be compared: exit 13, like a model that does not load.
  const failed = (c: Check) => report(EXIT.modelLoad, { segments: [], overall: null, checks: [c] });
  const hp = comparable(candidate, reference);
  if (!("ref" in hp)) return failed(hp);
  let tokenizer = opts.tokenizer;
  try {
    tokenizer ??= await TextTokenizer.load({ gguf: reference });
  } catch (e) {
    if (!(e instanceof CleanGgufError)) throw e;
    return failed(check("fail", "differential.tokenizer", e.message));
  }
  const sequences = sequencesOf(tokenizer, opts, hp.ref.contextLength);
  const ran = await runBoth(candidate, reference, sequences, opts.engine);
  if (!("sequences" in ran)) return failed(ran);
  const segments = ran.sequences.map((s, i) =>
    compareSegment(s, ran.refLogits[i]!, ran.candLogits[i]!, hp.ref.vocabSize, t)
  );
  const { checks, overall } = differentialChecks(segments, t);
  const ok = checks.every((c) => c.status === "pass");
  return report(ok ? null : EXIT.gibberish, { segments, overall, checks });
}
