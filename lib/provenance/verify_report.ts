/**
 * The report of `model-verify`, as types, as text and as JSON. The verdict
 * never says "verified" unless a signature was checked: without one, what
 * meta.json claims beyond the GGUF's own contents (sources, options...) is
 * listed as unverifiable, and a signature file that was not checked (no
 * public key) is reported as "signature not checked".
 *
 * @example
 * ```ts
 * import { formatVerifyReport, verifyReportJson } from "./verify_report.ts";
 * import { verifyGguf } from "./verify.ts";
 * const report = await verifyGguf({ ggufPath: "m.gguf" });
 * console.log(formatVerifyReport(report));
 * console.log(JSON.stringify(verifyReportJson(report), null, 2));
 * ```
 * @module
 */

import type { UnverifiableClaim } from "./meta_schema.ts";

/** The four things checked. */
export type VerifyCheckName = "fingerprint" | "meta.json" | "manifest" | "signature";

/** The outcome of one check. */
export interface VerifyCheck {
  readonly name: VerifyCheckName;
  readonly file: string;
  /** "skipped": the file is absent (or, for the signature, no public key was given). */
  readonly status: "ok" | "failed" | "skipped";
  /** One line: what was checked, or why it was skipped. */
  readonly detail: string;
  /** Every mismatch found, each naming the file and, where it applies, the field and tensor. */
  readonly mismatches: readonly string[];
}

/** What became of the signature. */
export type SignatureState = "verified" | "not checked" | "absent" | "failed";

/** Everything `verifyGguf` found. */
export interface VerifyReport {
  readonly ggufPath: string;
  readonly checks: readonly VerifyCheck[];
  /** True when no check failed and at least one ran. */
  readonly ok: boolean;
  /** sha256 of the whole GGUF. */
  readonly fileSha256: string;
  /** sha256 of the meta.json bytes, when it exists. */
  readonly metaSha256?: string;
  /** Why the GGUF could not be parsed, when it could not. */
  readonly unreadable?: string;
  /** Claims of meta.json the GGUF cannot confirm (covered when `signature` is "verified"). */
  readonly claims: readonly UnverifiableClaim[];
  readonly signature: SignatureState;
}

/** The one-word outcome: only a checked signature makes a report "verified". */
export type Verdict = "verified" | "signature not checked" | "not signed" | "failed";

/**
 * The verdict of a report.
 *
 * @example
 * ```ts
 * import { verifyGguf } from "./verify.ts";
 * const report = await verifyGguf({ ggufPath: "m.gguf" });
 * verdictOf(report); // "not signed" when every check passed and there is no .sig
 * ```
 */
export function verdictOf(report: VerifyReport): Verdict {
  if (!report.ok) return "failed";
  if (report.signature === "verified") return "verified";
  return report.signature === "not checked" ? "signature not checked" : "not signed";
}

/** One line per kind of claim: `tensors[3].x` and `tensors[7].x` become `tensors[*].x (2 tensors)`. */
function groupedClaims(claims: readonly UnverifiableClaim[]): string[] {
  const groups = new Map<string, { reason: string; fields: Set<string> }>();
  for (const c of claims) {
    const pattern = c.field.replace(/\[\d+\]/g, "[*]");
    const g = groups.get(pattern) ?? { reason: c.reason, fields: new Set<string>() };
    g.fields.add(c.field);
    groups.set(pattern, g);
  }
  return [...groups].map(([pattern, g]) => {
    const some = pattern.includes("[*]") && !g.fields.has(pattern);
    return `${pattern}${some ? ` (${g.fields.size} tensors)` : ""}: ${g.reason}`;
  });
}

function verdictLine(report: VerifyReport): string {
  const n = report.claims.length;
  const unverifiable = n === 0 ? "" : `; ${n} claim${n === 1 ? "" : "s"} of meta.json unverifiable`;
  switch (verdictOf(report)) {
    case "failed":
      return "NOT verified";
    case "verified":
      return "verified: the GGUF matches every recomputable field and the checked signature covers the rest";
    case "signature not checked":
      return `signature not checked (no public key given): the GGUF matches its companions${unverifiable}`;
    case "not signed":
      return `not signed: the GGUF matches its companions${unverifiable} without a signature`;
  }
}

/**
 * A human-readable report: one line per check, each followed by its
 * mismatches (unless `mismatches: false`, when the caller prints them another
 * way), then what could not be verified, then the verdict.
 *
 * @example
 * ```ts
 * import { verifyGguf } from "./verify.ts";
 * const report = await verifyGguf({ ggufPath: "m.gguf" });
 * console.log(formatVerifyReport(report));
 * ```
 */
export function formatVerifyReport(
  report: VerifyReport,
  options: { mismatches?: boolean } = {},
): string {
  const lines = [`${report.ggufPath}: sha256 ${report.fileSha256}`];
  if (report.unreadable !== undefined) lines.push(`  damaged: ${report.unreadable}`);
  for (const c of report.checks) {
    const count = c.mismatches.length > 0
      ? `, ${c.mismatches.length} mismatch${c.mismatches.length === 1 ? "" : "es"}`
      : "";
    lines.push(`  ${c.status.padEnd(7)}  ${c.name.padEnd(11)}  ${c.file} (${c.detail}${count})`);
    if (options.mismatches ?? true) {
      for (const m of c.mismatches) lines.push(`           - ${m}`);
    }
  }
  if (!report.checks.some((c) => c.status !== "skipped")) {
    lines.push(
      "  nothing to verify against: no fingerprint, meta.json, manifest or signature found",
    );
  }
  if (report.claims.length > 0) {
    lines.push(
      report.signature === "verified"
        ? "  covered by the signature (meta.json claims the GGUF cannot confirm):"
        : "  unverifiable without a signature (meta.json claims the GGUF cannot confirm):",
    );
    for (const g of groupedClaims(report.claims)) lines.push(`    - ${g}`);
  }
  lines.push(verdictLine(report));
  return lines.join("\n") + "\n";
}

/** The report as `--json` prints it. */
export interface VerifyReportJson {
  readonly gguf: string;
  readonly sha256: string;
  readonly meta_sha256: string | null;
  readonly ok: boolean;
  readonly verdict: Verdict;
  readonly signature: SignatureState;
  readonly damaged: string | null;
  readonly checks: readonly VerifyCheck[];
  /** Claims of meta.json the GGUF cannot confirm, when no checked signature covers them. */
  readonly unverifiable: readonly UnverifiableClaim[];
  /** The same claims, when a checked signature covers them. */
  readonly covered_by_signature: readonly UnverifiableClaim[];
}

/**
 * The report as plain JSON (what the text report says, field by field).
 *
 * @example
 * ```ts
 * import { verifyGguf } from "./verify.ts";
 * const report = await verifyGguf({ ggufPath: "m.gguf" });
 * const json = verifyReportJson(report);
 * json.unverifiable.map((c) => c.field); // ["tool", "options", "sources", ...]
 * ```
 */
export function verifyReportJson(report: VerifyReport): VerifyReportJson {
  const signed = report.signature === "verified";
  return {
    gguf: report.ggufPath,
    sha256: report.fileSha256,
    meta_sha256: report.metaSha256 ?? null,
    ok: report.ok,
    verdict: verdictOf(report),
    signature: report.signature,
    damaged: report.unreadable ?? null,
    checks: report.checks,
    unverifiable: signed ? [] : report.claims,
    covered_by_signature: signed ? report.claims : [],
  };
}
