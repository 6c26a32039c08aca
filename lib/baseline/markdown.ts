/**
 * The Markdown of a baseline, written with template literals section by
 * section: the same facts as the JSON, as tables for people (numbers to 6
 * significant digits; the JSON keeps full precision). Anyone who wants
 * another layout renders it from the `.baseline.json`.
 *
 * @example
 * ```ts
 * import { renderBaselineMarkdown } from "./markdown.ts";
 * import type { Baseline } from "./types.ts";
 * declare const baseline: Baseline;
 * const md = renderBaselineMarkdown(baseline, {
 *   chartFile: "clean-f16.baseline.svg",
 *   jsonFile: "clean-f16.baseline.json",
 * });
 * ```
 * @module
 */

import { percent } from "../cli/report_style.ts";
import { BASELINE_TOLERANCES, describeTolerance } from "./compare.ts";
import type { Baseline, BaselineTensorStats } from "./types.ts";

/** A number for tables: 6 significant digits, exponent form when tiny or huge, "–" when missing. */
function formatStat(x: number | null): string {
  if (x === null) return "–";
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-4 || a >= 1e7)) return x.toExponential(4);
  return String(Number(x.toPrecision(6)));
}

/** Text safe in a table cell or list item: pipes escaped, line breaks as ⏎; a code span when asked. */
function markdownText(text: string, code = false): string {
  const oneLine = text.replace(/\r?\n/g, "⏎");
  if (!code) return oneLine.replace(/[\\`*_[\]<>|]/g, (m) => `\\${m}`);
  // Inside a code span only the pipe needs escaping (GitHub tables honour \| there).
  const flat = oneLine.replace(/\|/g, "\\|");
  const fence = flat.includes("`") ? "``" : "`";
  return `${fence}${fence === "``" ? " " : ""}${flat}${fence === "``" ? " " : ""}${fence}`;
}

/** The names of the files that sit beside the Markdown. */
export interface BaselineFiles {
  readonly chartFile: string;
  readonly jsonFile: string;
}

const code = (s: string) => markdownText(JSON.stringify(s), true);

/** A Markdown table: header row, separator, one row per entry (no blank line inside). */
function table(header: readonly string[], rows: readonly (readonly (string | number)[])[]) {
  const line = (cells: readonly (string | number)[]) => `| ${cells.join(" | ")} |`;
  return [line(header), `|${header.map(() => "---").join("|")}|`, ...rows.map(line)].join("\n");
}

/** name, type, shape, rms, mean, min, max of one tensor, as cells. */
function stats(t: BaselineTensorStats) {
  return {
    name: `\`${t.name}\``,
    type: t.type,
    shape: `[${t.shape.join(", ")}]`,
    count: t.count === null ? "–" : String(t.count),
    /** rms, mean, min, max: the cells every tensor table ends its figures with. */
    figures: [t.rms, t.mean, t.min, t.max].map(formatStat),
  };
}

function summary(b: Baseline, files: BaselineFiles): string {
  const v = b.validation;
  const types = Object.entries(b.model.tensorTypes).map(([t, n]) => `${t} ${n}`).join(", ");
  const tokenizer = b.tokenizer.file ? markdownText(b.tokenizer.file) : "the GGUF's own";
  const tokenizerSha = b.tokenizer.sha256 ? `sha256-${b.tokenizer.sha256}` : "not hashed";
  const arch = `${b.model.architecture ?? "unknown"} (${b.model.family ?? "unknown family"})`;
  const notes = [
    ...(v.corrections ?? []).map((t) =>
      `- **runtime correction (triage only, the file is unchanged):** ${markdownText(t)}`
    ),
    ...(v.warnings ?? []).map((t) => `- warning: ${markdownText(t)}`),
  ];
  return `<!-- Written by ${b.tool.name} ${b.tool.version} (model-baseline). The machine-readable twin is ${files.jsonFile}; compare with \`deno task model-check <model_dir> <tokenizer.json> --baseline ${files.jsonFile}\`. -->
# Baseline of \`${b.model.file}\`

**${v.exitCode === 0 ? "PASSED" : "FAILED"}** — validation exit ${v.exitCode}: ${
    markdownText(v.exitMeaning)
  }${notes.map((n) => `\n\n${n}`).join("")}

${
    table(["", ""], [
      ["fingerprint", `\`${b.model.fingerprint}\``],
      ["size", `${b.model.sizeBytes} bytes`],
      ["architecture", arch],
      ["GGUF", `version ${b.model.ggufVersion}, ${b.model.tensorCount} tensors (${types})`],
      ["tokenizer", `${tokenizer} (${tokenizerSha})`],
      ["tool", `${b.tool.name} ${b.tool.version}`],
      ["gates", v.gates.map((g) => `${g.id} ${g.status}`).join(", ")],
    ])
  }

## Norm RMS per layer

![RMS of every norm tensor, per layer and norm class](${files.chartFile})`;
}

function probeAndNll(b: Baseline): string {
  const p = b.probe, n = b.nll;
  const probe = p
    ? `Greedy continuation of ${p.maxTokens} tokens.

- prompt: ${code(p.prompt)}
- prompt ids: \`${p.promptIds.join(" ")}\`
- generated ids: \`${p.generatedIds.join(" ")}\`
- text: ${code(p.text)}`
    : "The probe did not run (see the validation's exit code above).";
  const nll = n
    ? `Mean negative log-likelihood **${
      formatStat(n.meanNll)
    }** nats over ${n.tokens} tokens (a uniform guess scores
log V = ${formatStat(n.logVocab)}; ratio ${
      formatStat(n.meanNll / n.logVocab)
    }). The passage (lib/validate/linguistic.ts):

> ${markdownText(n.passage)}`
    : "Not measured (the probe did not run).";
  return `## Probe\n\n${probe}\n\n## NLL on the shipped passage\n\n${nll}`;
}

function tensorTables(b: Baseline): string {
  const figures = ["rms", "mean", "min", "max"];
  const normHead = ["tensor", "class", "layer", "type", "n", ...figures, "distinct", "verdict"];
  const norms = b.norms.map((n) => {
    const s = stats(n), layer = n.layer === null ? "–" : n.layer;
    const distinct = n.distinct === null ? "–" : n.distinct;
    return [s.name, n.normClass, layer, s.type, s.count, ...s.figures, distinct, n.verdict];
  });
  const projections = b.projections.map((p) => {
    const s = stats(p), t = p.trits;
    const trits = t ? `${percent(t.neg)} / ${percent(t.zero)} / ${percent(t.pos)}` : "–";
    return [s.name, p.layer, s.type, s.shape, ...s.figures, formatStat(p.scale), trits];
  });
  const other = b.otherTensors.map(stats).map((s) => [s.name, s.type, s.shape, ...s.figures]);
  const projHead = ["tensor", "layer", "type", "shape", ...figures, "scale", "−1 / 0 / +1"];
  return `## Norms

${table(normHead, norms)}

## Projections

${table(projHead, projections)}

## Other tensors

${table(["tensor", "type", "shape", ...figures], other)}`;
}

function recorded(b: Baseline): string {
  const env = b.environment;
  const metadata = Object.entries(b.metadata).map(([key, value]) => [
    `\`${key}\``,
    typeof value === "string" ? code(value) : String(value),
  ]);
  const timings = Object.entries(b.timings).map(([step, ms]) => [step, ms.toFixed(1)]);
  const vars = Object.entries(env.variables).map(([k, v]) => `- \`${k}=${v.replace(/`/g, "'")}\``);
  const tolerances = Object.entries(BASELINE_TOLERANCES).map(([quantity, tol]) => [
    quantity,
    describeTolerance(tol),
    markdownText(tol.why),
  ]);
  return `## Metadata

${table(["key", "value"], metadata)}

## Timings

Recorded for people, never compared.

${table(["step", "ms"], timings)}

## Environment

Recorded, never compared: strict mode ${env.strict}, deterministic ${env.deterministic}, seed ${env.seed},
threads ${env.threads ?? "default"}, Deno ${env.deno} on ${env.os}.

${vars.length ? vars.join("\n") : "No BITNET_* variable was set."}

## Tolerances

\`model-check --baseline\` fails (exit 18) when a quantity moves by more than this (docs/baselines/README.md):

${table(["quantity", "tolerance", "why"], tolerances)}`;
}

/**
 * The Markdown of a baseline.
 *
 * @example
 * ```ts
 * import type { Baseline } from "./types.ts";
 * declare const baseline: Baseline;
 * renderBaselineMarkdown(baseline, { chartFile: "x.svg", jsonFile: "x.json" }).startsWith("<!--"); // true
 * ```
 */
export function renderBaselineMarkdown(baseline: Baseline, files: BaselineFiles): string {
  const sections = [summary, probeAndNll, tensorTables, recorded];
  return sections.map((section) => section(baseline, files)).join("\n\n") + "\n";
}
