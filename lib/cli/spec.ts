/**
 * A task's command line as data: its arguments, options, defaults and which
 * of them are write targets. One spec per task (lib/cli/specs.ts) serves the
 * task itself (parsing, `--help`), the launcher that grants `deno task`
 * exactly the folders a run writes (lib/cli/launch.ts), the compiled binaries
 * (tasks/compile.ts) and the reference (tools/gen_reference.ts): there is no
 * second parser to drift.
 *
 * Every task also takes `--json`, `--quiet` and `-h, --help` ({@link COMMON_OPTIONS}).
 * Choices are matched case-insensitively (`--type I2_S` is `i2_s`). `--help` of
 * every task is generated here from its spec in one layout ({@link renderHelp}).
 *
 * @example
 * ```ts
 * import { parseTaskArgs, type TaskSpec } from "./spec.ts";
 * const spec = {
 *   name: "demo",
 *   script: "tasks/demo.ts",
 *   summary: "A demo.",
 *   description: "A demo.",
 *   positionals: [{ name: "input", label: "in.gguf", help: "the model", required: true }],
 *   options: { type: { type: "string", help: "format", choices: ["i2_s", "tq2_0"], default: { text: "i2_s" } } },
 *   examples: [],
 *   exitCodes: [],
 * } as const satisfies TaskSpec;
 * const parsed = parseTaskArgs(spec, ["m.gguf", "--type", "TQ2_0"]);
 * parsed.args.input; // "m.gguf"
 * parsed.flags.type; // "tq2_0"
 * ```
 * @module
 */

import { parseArgs } from "node:util";
import { EXIT_MEANINGS, type ExitCode, UsageError } from "../errors.ts";
import { repositoryPath } from "./paths.ts";

/**
 * A default value: a file of the repository (resolved against the checkout,
 * e.g. the bundled fixture), an output path (relative to the user's folder,
 * like anything the user types), or plain text.
 */
export type ArgDefault =
  | { readonly repo: string }
  | { readonly output: string }
  | { readonly text: string };

/**
 * A write target: the run writes this file (in its folder, through a
 * temporary file renamed into place) or into this folder.
 */
export interface WriteSpec {
  readonly kind: "file" | "dir";
  /** A write target only when this flag is given. */
  readonly when?: string;
  /** Not a write target when this flag is given. */
  readonly unless?: string;
  /** When absent (and no default), the run writes into the folder of this argument. */
  readonly besideOf?: string;
}

/** One option (`--name`): a string unless its type says a flag or a positive integer. */
export interface OptionSpec {
  readonly type?: "string" | "boolean" | "integer";
  readonly short?: string;
  /** The value's name in the help, e.g. FILE, N, TEXT. */
  readonly value?: string;
  readonly help: string;
  /** Allowed values (lower case), matched case-insensitively. */
  readonly choices?: readonly string[];
  readonly default?: ArgDefault;
  readonly writes?: WriteSpec;
}

/** One positional argument. */
export interface PositionalSpec {
  /** Key in the parsed result. */
  readonly name: string;
  /** Name shown in the usage line, e.g. `model.gguf`. */
  readonly label: string;
  readonly help: string;
  readonly required?: boolean;
  readonly default?: ArgDefault;
  readonly writes?: WriteSpec;
  /** The value must end with this, e.g. ".md". */
  readonly suffix?: string;
  /** A positive integer instead of text. */
  readonly type?: "integer";
}

/** Another layout of the positionals, used when the flag `when` is given. */
export interface PositionalMode {
  readonly when: string;
  readonly positionals: readonly PositionalSpec[];
}

/** Network access a run needs: only when `when` is given, to the hosts of `urlOption`'s URL. */
export interface NetworkSpec {
  readonly when: string;
  /** The option holding the server's URL. */
  readonly urlOption: string;
  /** Hosts granted when the option is absent (Deno --allow-net syntax, `*.` wildcards allowed). */
  readonly defaultHosts: readonly string[];
  /** Environment variables the run may read only then (e.g. the access token). */
  readonly env: readonly string[];
}

/** Everything about one task's command line. */
export interface TaskSpec {
  /** The deno.json task name, e.g. `model-export`. */
  readonly name: string;
  /** The script, from the repository root. */
  readonly script: string;
  /** One line, for deno.json's description and the task tables. */
  readonly summary: string;
  /** A paragraph for `--help`. */
  readonly description: string;
  readonly positionals: readonly PositionalSpec[];
  readonly modes?: readonly PositionalMode[];
  readonly options: Readonly<Record<string, OptionSpec>>;
  readonly examples: readonly string[];
  /** Exit codes this task returns besides 0, 1 and 2, in the order `--help` lists them. */
  readonly exitCodes: readonly number[];
  /**
   * BITNET_STRICT_MODE=1 refuses the correction variables (exit 16) before the task runs.
   * model-validate instead records the refusal in its report, with the same code.
   */
  readonly strictMode?: boolean;
  readonly network?: NetworkSpec;
  /** V8 settings the launcher passes to the task (`--v8-flags=`), e.g. a smaller young generation. */
  readonly v8Flags?: readonly string[];
  /**
   * The task runs the inference engine: with BITNET_NATIVE_KERNELS set, the launcher grants
   * `--allow-ffi` for that one library (lib/inference/kernels/native.ts).
   */
  readonly engine?: boolean;
}

/** The options every task takes. */
export const COMMON_OPTIONS = {
  json: { type: "boolean", help: "print a machine-readable result (JSON) on stdout" },
  quiet: { type: "boolean", help: "nothing on stderr but errors (no progress, logs, warnings)" },
  help: { type: "boolean", short: "h", help: "this text" },
} as const satisfies Record<string, OptionSpec>;

/** The value type of a string or integer argument: a number, the union of its choices, or text. */
type Value<O> = O extends { readonly type: "integer" } ? number
  : O extends { readonly choices: readonly (infer C extends string)[] } ? C
  : string;

type OptionValue<O> = O extends { readonly type: "boolean" } ? boolean
  : O extends { readonly default: ArgDefault } ? Value<O>
  : Value<O> | undefined;

type PositionalValue<P> = P extends { readonly default: ArgDefault } | { readonly required: true }
  ? Value<P>
  : Value<P> | undefined;

type AllPositionals<S extends TaskSpec> =
  | S["positionals"][number]
  | (S["modes"] extends readonly PositionalMode[] ? S["modes"][number]["positionals"][number]
    : never);

/** The parsed command line of the task `S`. */
export interface ParsedArgs<S extends TaskSpec> {
  readonly flags:
    & { readonly [K in keyof S["options"]]: OptionValue<S["options"][K]> }
    & { readonly json: boolean; readonly quiet: boolean; readonly help: boolean };
  readonly args: { readonly [P in AllPositionals<S> as P["name"]]: PositionalValue<P> };
}

/** Any task's parsed command line, for code that works on every spec. */
export interface AnyParsedArgs {
  readonly flags: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly args: Readonly<Record<string, string | number | undefined>>;
}

/** A default as the run sees it (relative paths stay relative: the run's folder is the user's). */
function defaultValue(d: ArgDefault): string {
  if ("repo" in d) return repositoryPath(d.repo);
  if ("output" in d) return d.output;
  return d.text;
}

/** The positionals in use for these flags. */
export function activePositionals(
  spec: TaskSpec,
  flags: Readonly<Record<string, unknown>>,
): readonly PositionalSpec[] {
  const mode = spec.modes?.find((m) => flags[m.when] !== undefined && flags[m.when] !== false);
  return mode?.positionals ?? spec.positionals;
}

function allOptions(spec: TaskSpec): Readonly<Record<string, OptionSpec>> {
  return { ...spec.options, ...COMMON_OPTIONS };
}

/** node:util parseArgs' messages, rewritten as one style that ends with "see --help". */
function usageMessage(spec: TaskSpec, e: Error & { code?: string }): string {
  const unknown = /Unknown option '([^']+)'/.exec(e.message);
  if (unknown) return `${spec.name}: unknown option ${unknown[1]}; see --help`;
  const missing = /Option '(-\w, )?(--[\w-]+) <value>' argument missing/.exec(e.message);
  if (missing) return `${spec.name}: ${missing[2]} needs a value; see --help`;
  const noValue = /Option '(-\w, )?(--[\w-]+)' does not take an argument/.exec(e.message);
  if (noValue) return `${spec.name}: ${noValue[2]} takes no value; see --help`;
  return `${spec.name}: ${e.message}; see --help`;
}

function parseRaw(spec: TaskSpec, argv: readonly string[]) {
  const options = Object.fromEntries(
    Object.entries(allOptions(spec)).map(([name, o]) => [
      name,
      {
        type: o.type === "boolean" ? "boolean" as const : "string" as const,
        ...(o.short && { short: o.short }),
      },
    ]),
  );
  try {
    return parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(usageMessage(spec, e as Error), { cause: e });
  }
}

function checkChoice(spec: TaskSpec, name: string, o: OptionSpec, value: string): string {
  if (!o.choices) return value;
  const found = o.choices.find((c) => c === value.toLowerCase());
  if (found !== undefined) return found;
  throw new UsageError(
    `${spec.name}: --${name} must be one of ${o.choices.join(", ")}, got ${
      JSON.stringify(value)
    }; see --help`,
  );
}

/** The value of an integer option or positional, or a usage error naming it. */
function positiveInt(value: string, what: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new UsageError(`${what} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return n;
}

/**
 * Parses `argv` with the task's spec: unknown options, missing values, extra
 * or missing positionals and bad choices are {@link UsageError}s (exit 2)
 * that end with "see --help"; an integer argument that is not a positive
 * integer is one too. Defaults are applied; an empty positional counts as
 * absent. With `--help`, nothing else is checked.
 *
 * @example
 * ```ts
 * import { EXPORT_SPEC } from "./specs.ts";
 * parseTaskArgs(EXPORT_SPEC, ["ckpt", "", "out"]).args.out_dir; // "out"
 * ```
 */
export function parseTaskArgs<S extends TaskSpec>(spec: S, argv: readonly string[]): ParsedArgs<S> {
  const raw = parseRaw(spec, argv);
  const flags: Record<string, string | number | boolean | undefined> = {};
  for (const [name, o] of Object.entries(allOptions(spec))) {
    const v = raw.values[name];
    if (o.type === "boolean") {
      flags[name] = v === true;
      continue;
    }
    const text = typeof v === "string"
      ? checkChoice(spec, name, o, v)
      : (o.default && defaultValue(o.default));
    // Checked only when the run goes ahead: `--help` prints the help whatever the values.
    flags[name] = o.type === "integer" && text !== undefined && raw.values.help !== true
      ? positiveInt(text, `--${name}`)
      : text;
  }
  const args: Record<string, string | number | undefined> = {};
  if (flags.help) return { flags, args } as unknown as ParsedArgs<S>;
  const layout = activePositionals(spec, flags);
  if (raw.positionals.length > layout.length) {
    const extra = raw.positionals.slice(layout.length).map((p) => JSON.stringify(p)).join(" ");
    throw new UsageError(`${spec.name}: unexpected argument ${extra}; see --help`);
  }
  layout.forEach((p, i) => {
    const given = raw.positionals[i];
    const value = given === undefined || given === ""
      ? (p.default ? defaultValue(p.default) : undefined)
      : given;
    if (value === undefined && p.required) {
      throw new UsageError(`${spec.name}: missing <${p.label}>; see --help`);
    }
    if (value !== undefined && p.suffix !== undefined && !value.endsWith(p.suffix)) {
      throw new UsageError(
        `${spec.name}: <${p.label}> must end in ${p.suffix}, got ${
          JSON.stringify(value)
        }; see --help`,
      );
    }
    args[p.name] = p.type === "integer" && value !== undefined ? positiveInt(value, p.name) : value;
  });
  return { flags, args } as unknown as ParsedArgs<S>;
}

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
  const options = allOptions(spec);
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
