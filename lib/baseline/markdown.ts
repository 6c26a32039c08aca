/**
 * The Markdown of a baseline: the baseline turned into a view of preformatted,
 * Markdown-safe strings, rendered through the template (./template.ts by
 * default).
 *
 * @example
 * ```ts
 * import { renderBaselineMarkdown } from "./markdown.ts";
 * const md = renderBaselineMarkdown(baseline, {
 *   chartFile: "clean-f16.baseline.svg",
 *   jsonFile: "clean-f16.baseline.json",
 * });
 * ```
 * @module
 */

import { BASELINE_TEMPLATE, BASELINE_TEMPLATE_SOURCE } from "./template.ts";
import { renderTemplate, type TemplateView } from "./template_engine.ts";
import { BASELINE_TOLERANCES, describeTolerance } from "./tolerances.ts";
import type { Baseline, BaselineTensorStats } from "./types.ts";

/**
 * A number for tables: 6 significant digits, exponent form when tiny or
 * huge, "–" when missing. The JSON keeps full precision.
 *
 * @example
 * ```ts
 * formatStat(1.0199233138016919); // "1.01992"
 * formatStat(null); // "–"
 * ```
 */
export function formatStat(x: number | null): string {
  if (x === null) return "–";
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-4 || a >= 1e7)) return x.toExponential(4);
  return String(Number(x.toPrecision(6)));
}

/**
 * Text that is safe inside a Markdown table cell or list item: pipes
 * escaped, line breaks shown as ⏎, and wrapped as a code span when asked.
 *
 * @example
 * ```ts
 * markdownText("a|b\nc"); // "a\\|b⏎c"
 * markdownText("x|y", true); // "`x\\|y`"
 * ```
 */
export function markdownText(text: string, code = false): string {
  const oneLine = text.replace(/\r?\n/g, "⏎");
  if (!code) return oneLine.replace(/[\\`*_[\]<>|]/g, (m) => `\\${m}`);
  // Inside a code span only the pipe needs escaping (GitHub tables honour \| there).
  const flat = oneLine.replace(/\|/g, "\\|");
  const fence = flat.includes("`") ? "``" : "`";
  return `${fence}${fence === "``" ? " " : ""}${flat}${fence === "``" ? " " : ""}${fence}`;
}

const shape = (s: readonly number[]) => `[${s.join(", ")}]`;

function statCells(t: BaselineTensorStats) {
  return {
    name: t.name,
    type: t.type,
    shape: shape(t.shape),
    count: t.count === null ? "–" : String(t.count),
    rms: formatStat(t.rms),
    mean: formatStat(t.mean),
    min: formatStat(t.min),
    max: formatStat(t.max),
  };
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** The names of the files that sit beside the Markdown. */
export interface BaselineFiles {
  readonly chartFile: string;
  readonly jsonFile: string;
}

/**
 * The template view of a baseline (every placeholder of the shipped template).
 *
 * @example
 * ```ts
 * baselineView(baseline, files).fingerprint; // "sha256-…"
 * ```
 */
export function baselineView(b: Baseline, files: BaselineFiles): TemplateView {
  const env = b.environment;
  const vars = Object.entries(env.variables).map(([name, value]) => ({ name, value }));
  const passed = b.validation.exitCode === 0;
  return {
    tool_name: b.tool.name,
    tool_version: b.tool.version,
    file: b.model.file,
    fingerprint: b.model.fingerprint,
    size_bytes: String(b.model.sizeBytes),
    architecture: b.model.architecture ?? "unknown",
    family: b.model.family ?? "unknown family",
    gguf_version: b.model.ggufVersion,
    tensor_count: b.model.tensorCount,
    tensor_types: Object.entries(b.model.tensorTypes).map(([t, n]) => `${t} ${n}`).join(", "),
    tokenizer_file: b.tokenizer.file ? markdownText(b.tokenizer.file) : "the GGUF's own",
    tokenizer_sha256: b.tokenizer.sha256 ? `sha256-${b.tokenizer.sha256}` : "not hashed",
    verdict: passed ? "PASSED" : "FAILED",
    exit_code: b.validation.exitCode,
    exit_meaning: markdownText(b.validation.exitMeaning),
    gates: b.validation.gates.map((g) => `${g.id} ${g.status}`).join(", "),
    corrections: (b.validation.corrections ?? []).map((text) => ({ text: markdownText(text) })),
    warnings: (b.validation.warnings ?? []).map((text) => ({ text: markdownText(text) })),
    chart_file: files.chartFile,
    json_file: files.jsonFile,
    probe: b.probe
      ? {
        prompt: markdownText(JSON.stringify(b.probe.prompt), true),
        max_tokens: b.probe.maxTokens,
        prompt_ids: b.probe.promptIds.join(" "),
        generated_ids: b.probe.generatedIds.join(" "),
        text: markdownText(JSON.stringify(b.probe.text), true),
      }
      : null,
    nll: b.nll
      ? {
        mean_nll: formatStat(b.nll.meanNll),
        tokens: b.nll.tokens,
        log_vocab: formatStat(b.nll.logVocab),
        ratio: formatStat(b.nll.meanNll / b.nll.logVocab),
        passage: markdownText(b.nll.passage),
      }
      : null,
    norms: b.norms.map((n) => ({
      ...statCells(n),
      norm_class: n.normClass,
      layer: n.layer === null ? "–" : String(n.layer),
      distinct: n.distinct === null ? "–" : String(n.distinct),
      verdict: n.verdict,
    })),
    projections: b.projections.map((p) => ({
      ...statCells(p),
      layer: String(p.layer),
      scale: formatStat(p.scale),
      trits: p.trits ? `${pct(p.trits.neg)} / ${pct(p.trits.zero)} / ${pct(p.trits.pos)}` : "–",
    })),
    other_tensors: b.otherTensors.map(statCells),
    metadata: Object.entries(b.metadata).map(([key, value]) => ({
      key,
      value: typeof value === "string" ? markdownText(JSON.stringify(value), true) : String(value),
    })),
    timings: Object.entries(b.timings).map(([step, ms]) => ({ step, ms: ms.toFixed(1) })),
    strict: String(env.strict),
    deterministic: String(env.deterministic),
    seed: env.seed,
    threads: env.threads === null ? "default" : String(env.threads),
    deno: env.deno,
    os: env.os,
    variables: vars.map((v) => ({ name: v.name, value: v.value.replace(/`/g, "'") })),
    tolerances: Object.entries(BASELINE_TOLERANCES).map(([quantity, tol]) => ({
      quantity,
      tolerance: describeTolerance(tol),
      why: markdownText(tol.why),
    })),
  };
}

/**
 * The Markdown of a baseline, from the embedded template or a given one.
 *
 * @example
 * ```ts
 * const md = renderBaselineMarkdown(baseline, files);
 * const custom = renderBaselineMarkdown(baseline, files, { text: "# {{file}}\n", source: "my.template" });
 * ```
 */
export function renderBaselineMarkdown(
  baseline: Baseline,
  files: BaselineFiles,
  template: { readonly text: string; readonly source: string } = {
    text: BASELINE_TEMPLATE,
    source: BASELINE_TEMPLATE_SOURCE,
  },
): string {
  return renderTemplate(template.text, baselineView(baseline, files), template.source);
}
