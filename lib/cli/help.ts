/**
 * `--help` of every task, generated from its spec in one layout: usage,
 * description, arguments, options, examples, exit codes.
 *
 * @example
 * ```ts
 * import { renderHelp } from "./help.ts";
 * import { PROBE_SPEC } from "./specs.ts";
 * console.log(renderHelp(PROBE_SPEC));
 * ```
 * @module
 */

import { EXIT_MEANINGS, type ExitCode } from "../errors.ts";
import {
  type ArgDefault,
  COMMON_OPTIONS,
  type OptionSpec,
  type PositionalSpec,
  type TaskSpec,
} from "./spec.ts";

/** Where help texts start, unless a name is longer. */
const HELP_COLUMN = 28;
/** Lines are kept within this width where the texts allow. */
const LINE_WIDTH = 100;

function describeDefault(d: ArgDefault | undefined): string {
  if (d === undefined) return "";
  if ("repo" in d) return ` (default ${d.repo}, bundled with the repository)`;
  if ("output" in d) return ` (default ${d.output}, from the current folder)`;
  return ` (default ${/\s/.test(d.text) ? JSON.stringify(d.text) : d.text})`;
}

/** The text with its default: on its last line when it fits, else on a line of its own. */
function withDefault(text: string, d: ArgDefault | undefined, column: number): string {
  const note = describeDefault(d);
  if (note === "") return text;
  const last = text.split("\n").at(-1) ?? "";
  return column + last.length + note.length <= LINE_WIDTH
    ? text + note
    : `${text}\n${note.trimStart()}`;
}

/** Two-column rows; a long name puts its text on the next line. */
function table(rows: readonly [string, string, (ArgDefault | undefined)?][]): string[] {
  const width = Math.min(
    HELP_COLUMN,
    Math.max(...rows.map(([left]) => left.length)) + 2,
  );
  const out: string[] = [];
  for (const [left, help, d] of rows) {
    const text = withDefault(help, d, width + 2);
    const [first = "", ...rest] = text.split("\n");
    if (left.length + 2 > width) out.push(`  ${left}`, `  ${" ".repeat(width)}${first}`);
    else out.push(`  ${left.padEnd(width)}${first}`);
    for (const line of rest) out.push(`  ${" ".repeat(width)}${line}`);
  }
  return out;
}

function positionalUsage(p: PositionalSpec): string {
  return p.required ? `<${p.label}>` : `[${p.label}]`;
}

function optionName(name: string, o: OptionSpec): string {
  const value = o.choices ? ` ${o.choices.join("|")}` : o.value ? ` ${o.value}` : "";
  return `${o.short ? `-${o.short}, ` : ""}--${name}${value}`;
}

/** The usage lines: the main layout, then one per alternative layout. */
function usageLines(spec: TaskSpec): string[] {
  const main = [spec.name, ...spec.positionals.map(positionalUsage), "[options]"].join(" ");
  const modes = (spec.modes ?? []).map((m) => {
    const flag = spec.options[m.when];
    const value = flag?.value ? ` ${flag.value}` : "";
    return [spec.name, `--${m.when}${value}`, ...m.positionals.map(positionalUsage), "[options]"]
      .join(" ");
  });
  return [`Usage: ${main}`, ...modes.map((line) => `       ${line}`)];
}

/**
 * The help text of a task.
 *
 * @example
 * ```ts
 * import { VERIFY_SPEC } from "./specs.ts";
 * renderHelp(VERIFY_SPEC).startsWith("Usage: model-verify"); // true
 * ```
 */
export function renderHelp(spec: TaskSpec): string {
  const positionals = new Map<string, PositionalSpec>();
  for (const p of [...spec.positionals, ...(spec.modes ?? []).flatMap((m) => m.positionals)]) {
    if (!positionals.has(p.name)) positionals.set(p.name, p);
  }
  const options: Record<string, OptionSpec> = { ...spec.options, ...COMMON_OPTIONS };
  const codes = [0, 1, 2, ...spec.exitCodes.filter((c) => c > 2)];
  const lines = [
    ...usageLines(spec),
    "",
    spec.description,
    ...(positionals.size > 0
      ? [
        "",
        "Arguments:",
        ...table(
          [...positionals.values()].map((p) => [p.label, p.help, p.default]),
        ),
      ]
      : []),
    "",
    "Options:",
    ...table(
      Object.entries(options).map(([name, o]) => [optionName(name, o), o.help, o.default]),
    ),
    ...(spec.examples.length > 0
      ? ["", "Examples:", ...spec.examples.map((e) => `  deno task ${e}`)]
      : []),
    "",
    "Exit codes:",
    ...table(codes.map((c) => [String(c), EXIT_MEANINGS[c as ExitCode] ?? "?"])),
  ];
  return lines.join("\n") + "\n";
}
