/**
 * The validation report: its types (one object that `--json` prints as is
 * and that docs/reference/validate-report.schema.json describes) and its
 * human-readable rendering.
 *
 * @example
 * ```ts
 * import { renderReport } from "./report.ts";
 * import { reportStyle } from "../cli/report_style.ts";
 * import { validateGguf } from "./validate.ts";
 * const report = await validateGguf({ ggufPath: "models/clean/clean-f16.gguf" });
 * console.log(renderReport(report, reportStyle()));
 * console.log(JSON.stringify(report, null, 2));
 * ```
 * @module
 */

import type { NormClass } from "../arch/registry.ts";
import type { TensorSummary } from "../stats/summary.ts";
import { type CheckStatus, percent, type ReportStyle } from "../cli/report_style.ts";
import type { DifferentialReport } from "./differential.ts";
import type { BlockFinding, ProjectionFinding } from "./projections.ts";

/** The report format identifier (bump on incompatible changes). */
export const REPORT_SCHEMA_ID = "clean-gguf/validate-report/1";

/** One check: what was verified, its outcome and a message naming the tensor or key. */
export interface Check {
  readonly id: string;
  readonly status: CheckStatus;
  readonly message: string;
  readonly tensor?: string;
}

/**
 * A check, in one line: `check("fail", "shape", "…", tensor)`.
 *
 * @example
 * ```ts
 * check("pass", "finite", "all weight values are finite"); // { id: "finite", status: "pass", message: … }
 * ```
 */
export function check(status: CheckStatus, id: string, message: string, tensor?: string): Check {
  return { id, status, message, ...(tensor ? { tensor } : {}) };
}

/** Summary statistics of one tensor's values. */
export interface TensorStatsEntry extends Readonly<TensorSummary> {
  readonly name: string;
  readonly type: string;
  /** PyTorch order. */
  readonly shape: readonly number[];
}

/** Gate 1's finding for one norm tensor. */
export interface NormFinding {
  readonly name: string;
  readonly normClass: NormClass;
  readonly layer: number | null;
  readonly type: string;
  readonly shape: readonly number[];
  /** Null when the values could not be decoded. */
  readonly stats: TensorStatsEntry | null;
  /** Distinct values (counted up to 4096). */
  readonly distinct: number | null;
  /** The low-bit grid the values sit on, or null when they sit on none. */
  readonly gridLevels: number | null;
  readonly envelope: { readonly rmsMin: number; readonly rmsMax: number; readonly reason: string };
  /** The meta.json comparison, when meta.json has a row for this tensor. */
  readonly meta: {
    readonly rms: number;
    readonly min: number;
    readonly max: number;
    readonly relDiff: number;
    readonly tolerance: number;
    /** The payload's digest equals meta.json's (its `xxh64`, or `sha256` in earlier files). */
    readonly digestMatch: boolean;
  } | null;
  /** healthy: every check passed; suspicious: values look corrupted; unusable: cannot act as a norm. */
  readonly verdict: "healthy" | "suspicious" | "unusable";
  readonly checks: readonly Check[];
}

/** A correction applied in memory (never to the file). */
export interface AppliedCorrection {
  readonly tensor: string;
  readonly kind: string;
  readonly reason: string;
  readonly before: { readonly rms: number; readonly min: number; readonly max: number };
  readonly after: { readonly rms: number; readonly min: number; readonly max: number };
}

/** One gibberish signal on the generated text. */
export interface Signal {
  readonly id: string;
  readonly value: number;
  readonly threshold: number;
  readonly pass: boolean;
  readonly detail: string;
}

/** The inference probe. */
export interface ProbeResult {
  readonly prompt: string;
  readonly promptIds: readonly number[];
  readonly maxTokens: number;
  readonly generatedIds: readonly number[];
  readonly text: string;
  readonly expect: string | null;
  readonly signals: readonly Signal[];
  readonly nll: {
    readonly meanNll: number;
    readonly tokens: number;
    readonly logVocab: number;
    readonly threshold: number;
  } | null;
  readonly timings: Readonly<Record<string, number>>;
}

/** The gates, in order, with their titles. */
const GATE_TITLES = {
  strict: "Strict mode",
  norms: "Gate 1: norm tensors",
  projections: "Gate 2: projections and model loading",
  linguistic: "Gate 3: linguistic probe",
  differential: "Differential: against the reference model",
} as const;

/** Gate ids, in order. */
export type GateId = keyof typeof GATE_TITLES;

/** One gate's outcome. */
export interface GateResult {
  readonly id: GateId;
  readonly title: string;
  readonly status: "pass" | "fail" | "skip";
  /** The exit code this gate's failure maps to; null when it passed or was skipped. */
  readonly exitCode: number | null;
  readonly summary: string;
  readonly durationMs: number;
  readonly checks: readonly Check[];
}

/** The whole report. */
export interface ValidationReport {
  readonly schema: typeof REPORT_SCHEMA_ID;
  readonly tool: { readonly name: string; readonly version: string };
  readonly model: {
    readonly path: string;
    readonly sizeBytes: number | null;
    readonly architecture: string | null;
    readonly family: "bitnet" | "llama" | null;
    readonly sha256: string | null;
    readonly metaPath: string | null;
    readonly tokenizerPath: string | null;
  };
  readonly environment: {
    readonly strict: boolean;
    readonly deterministic: boolean;
    readonly seed: number;
    readonly threads: number | null;
    /** Every BITNET_* variable that was set. */
    readonly variables: Readonly<Record<string, string>>;
    readonly deno: string;
    readonly os: string;
  };
  readonly rules: { readonly source: string };
  readonly exitCode: number;
  readonly exitMeaning: string;
  readonly passed: boolean;
  readonly gates: readonly GateResult[];
  readonly norms: readonly NormFinding[];
  readonly projections: readonly ProjectionFinding[];
  readonly blocks: readonly BlockFinding[];
  /** Statistics of every tensor in the file, in file order. */
  readonly tensors: readonly TensorStatsEntry[];
  readonly probe: ProbeResult | null;
  readonly corrections: readonly AppliedCorrection[];
  readonly warnings: readonly string[];
  readonly timings: Readonly<Record<string, number>>;
  /** With `--against`: the differential comparison with the reference model. */
  readonly differential?: DifferentialReport;
}

/**
 * One gate's result, titled: failed when `exitCode` is a number, passed when
 * it is null or absent, skipped when `status` says so; `started` (a
 * `performance.now()`) gives the duration, else 0.
 *
 * @example
 * ```ts
 * gate("norms", { exitCode: 11, summary: "1 of 17 norm tensors suspicious" }).status; // "fail"
 * gate("linguistic", { status: "skip", summary: "skipped (--no-probe)" }).title; // "Gate 3: linguistic probe"
 * ```
 */
export function gate(id: GateId, outcome: {
  readonly summary: string;
  readonly exitCode?: number | null;
  readonly status?: "skip";
  readonly checks?: readonly Check[];
  readonly started?: number;
}): GateResult {
  const exitCode = outcome.exitCode ?? null;
  return {
    id,
    title: GATE_TITLES[id],
    status: outcome.status ?? (exitCode === null ? "pass" : "fail"),
    exitCode,
    summary: outcome.summary,
    durationMs: outcome.started ? performance.now() - outcome.started : 0,
    checks: outcome.checks ?? [],
  };
}

/**
 * A gate that failed on one check, whose message is also the gate's summary.
 *
 * @example
 * ```ts
 * failedGate("norms", 10, "read", "model.gguf: cannot read").checks[0]?.id; // "read"
 * ```
 */
export function failedGate(
  id: GateId,
  exitCode: number,
  checkId: string,
  message: string,
  started?: number,
): GateResult {
  const checks = [check("fail", checkId, message)];
  return gate(id, { exitCode, summary: message, checks, ...(started ? { started } : {}) });
}

/** A number for tables: 4 decimals, or exponent form when tiny or huge. */
function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return x.toExponential(3);
  return x.toFixed(4);
}

/** A plain text table with left-aligned columns. */
function textTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  // Widths ignore ANSI colour codes so that coloured cells line up.
  // deno-lint-ignore no-control-regex
  const visible = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "").length;
  const widths = header.map((h, i) =>
    Math.max(visible(h), ...rows.map((r) => visible(r[i] ?? "")))
  );
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => c + " ".repeat(widths[i]! - visible(c))).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/** rms, min, max and mean; a tensor with NaN or ±inf values has no finite figures to show. */
function figures(stats: NormFinding["stats"]): string[] {
  if (!stats) return ["-", "-", "-", "-"];
  if (stats.nonFinite > 0) return Array(4).fill("NaN/inf");
  return [stats.rms, stats.min, stats.max, stats.mean].map(fmt);
}

/**
 * The norm table (`model-inspect-ln` prints it; the report shows it too).
 *
 * @example
 * ```ts
 * import { reportStyle } from "../cli/report_style.ts";
 * declare const report: ValidationReport;
 * console.log(normTable(report.norms, reportStyle({ color: false })));
 * ```
 */
export function normTable(norms: readonly NormFinding[], s: ReportStyle): string {
  const rows = norms.map((n) => [
    n.name,
    n.type,
    n.stats ? String(n.stats.count + n.stats.nonFinite) : "-",
    ...figures(n.stats),
    n.distinct === null ? "-" : String(n.distinct),
    `[${fmt(n.envelope.rmsMin)}, ${fmt(n.envelope.rmsMax)}]`,
    n.meta ? fmt(n.meta.rms) : "-",
    n.verdict === "healthy" ? s.good(n.verdict) : s.bad(n.verdict),
  ]);
  const header = ["tensor", "type", "n", "rms", "min", "max", "mean", "distinct", "envelope"];
  return textTable([...header, "meta rms", "verdict"], rows);
}

/**
 * The human-readable report.
 *
 * @example
 * ```ts
 * import { reportStyle } from "../cli/report_style.ts";
 * declare const report: ValidationReport;
 * console.log(renderReport(report, reportStyle()));
 * ```
 */
export function renderReport(r: ValidationReport, s: ReportStyle): string {
  const env = r.environment;
  const out = [
    s.bold(`Validation of ${r.model.path}`),
    s.dim(
      `architecture ${r.model.architecture ?? "?"} (${
        r.model.family ?? "?"
      }), strict ${env.strict}, deterministic ${env.deterministic}, seed ${env.seed}, threads ${
        env.threads ?? "default"
      }, rules ${r.rules.source}, meta.json ${r.model.metaPath ?? "none"}`,
    ),
  ];
  for (const g of r.gates) {
    const took = s.dim(`(${Math.round(g.durationMs)} ms)`);
    out.push("", `${s.status(g.status)} ${s.bold(g.title)}: ${g.summary} ${took}`);
    for (const c of g.checks) {
      if (c.status === "pass" && g.status === "pass") continue;
      out.push(`  ${s.status(c.status)} ${c.id}: ${c.message}`);
    }
    if (g.id === "norms" && r.norms.length > 0) out.push(indent(normTable(r.norms, s)));
    if (g.id === "projections" && r.blocks.length > 0) {
      const rows = r.blocks.map((b) => [
        String(b.layer),
        fmt(b.rms),
        b.trits
          ? `${percent(b.trits.neg)} / ${percent(b.trits.zero)} / ${percent(b.trits.pos)}`
          : "-",
        b.flagged.length ? s.bad(b.flagged.join(", ")) : s.good("ok"),
      ]);
      out.push(indent(textTable(["block", "rms", "-1 / 0 / +1", "outliers"], rows)));
    }
    if (g.id === "linguistic" && r.probe) {
      const p = r.probe;
      out.push(`  prompt ${JSON.stringify(p.prompt)} → ${JSON.stringify(p.text)}`);
      out.push(s.dim(`  ids ${p.generatedIds.join(" ")}`));
      for (const sig of p.signals) {
        out.push(
          `  ${s.status(sig.pass ? "pass" : "fail")} ${sig.id} ${fmt(sig.value)} (${sig.detail})`,
        );
      }
    }
  }
  if (r.corrections.length > 0) {
    out.push(
      "",
      s.warn("Runtime corrections applied in memory (triage only, the file is unchanged):"),
    );
    for (const c of r.corrections) {
      out.push(
        `  ${c.tensor}: ${c.kind} rms ${fmt(c.before.rms)} → ${fmt(c.after.rms)} (${c.reason})`,
      );
    }
  }
  for (const w of r.warnings) out.push(s.warn(`warning: ${w}`));
  const verdict = r.passed ? s.good("PASSED") : s.bad("FAILED");
  out.push("", `${s.bold(verdict)} exit ${r.exitCode}: ${r.exitMeaning}`);
  return out.join("\n");
}

const indent = (t: string) => t.split("\n").map((l) => "  " + l).join("\n");
