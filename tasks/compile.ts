/**
 * `deno task compile [flags]`: builds one single-file binary per task with
 * `deno compile` (dist/model-export, dist/model-validate, ...). Each binary is
 * built from the script and the permission flags of its deno.json task, so a
 * binary may do exactly what `deno task <name>` may. The worker modules (the
 * WebAssembly kernels' threads, the sha256 of large inputs) are added
 * with `--include`: they are started with `new Worker(new URL(...))`, which
 * `deno compile` does not follow (the wasm bytes themselves are a TypeScript
 * module and come with the module graph).
 *
 * `deno compile` downloads Deno's runtime for the target (denort) from
 * dl.deno.land the first time; where that host cannot be reached the task
 * stops at the first binary with exit 20 and says so.
 *
 * @example
 * ```sh
 * deno task compile                        # every binary into dist/
 * deno task compile --only model-validate --out /tmp/bin
 * deno task compile --list                 # the deno compile commands, nothing built
 * ```
 * @module
 */

import denoJson from "../deno.json" with { type: "json" };
import { join } from "node:path";
import { DownloadError, UsageError } from "../lib/errors.ts";
import { logLine, parseTaskArgs, runTask } from "../lib/cli/run.ts";

/** One binary: its name (the deno.json task's), script and run-time flags. */
export interface Binary {
  /** Task name, also the file name under the output folder, e.g. `model-export`. */
  name: string;
  /** Script path from the repository root, e.g. `tasks/export_clean_gguf.ts`. */
  script: string;
  /** Flags the binary runs with (permissions), as written in the task. */
  flags: string[];
  /** Arguments after the script in the task, baked into the binary. */
  args: string[];
}

/**
 * Modules and data files a binary loads at run time that `deno compile` does
 * not find by following imports, from the repository root: the worker modules
 * (started with `new Worker(new URL(...))`). No script reads a data file next
 * to its code. tests/delivery/compile_test.ts derives this list from lib/ and
 * the scripts, and compares.
 */
export const COMPILE_INCLUDES: readonly string[] = [
  "lib/inference/kernels/worker.ts",
  "lib/io/sha256_worker.ts",
];

/**
 * deno.json tasks that run a script but make no sense as a binary:
 * `build:wasm` rewrites a source file of the checkout, `compile` is this.
 */
export const NOT_COMPILED: readonly string[] = ["build:wasm", "compile"];

/** Flags of a task's `deno run` that configure loading, not the binary's run time. */
const LOAD_FLAGS = /^--(frozen|lock|no-lock|config|no-config|cached-only|reload|no-remote)(=|$)/;
/** Flags a binary keeps: permissions, unstable features, V8 flags, a fixed seed. */
const RUN_FLAGS = /^(-A|--allow-[a-z-]+|--deny-[a-z-]+|--unstable-[a-z-]+|--v8-flags|--seed)(=|$)/;

/**
 * The binaries described by deno.json's `tasks`: every task whose command is
 * `deno run [flags] tasks/<script>.ts [args]`, except {@link NOT_COMPILED}.
 * A flag that is neither a load flag nor a run-time flag is an error, so that
 * a new flag is never silently dropped from the binaries.
 *
 * @example
 * ```ts
 * binariesOf({ "model-export": { command: "deno run --frozen --allow-read tasks/export_clean_gguf.ts" } });
 * // [{ name: "model-export", script: "tasks/export_clean_gguf.ts", flags: ["--allow-read"], args: [] }]
 * ```
 */
export function binariesOf(tasks: Readonly<Record<string, unknown>>): Binary[] {
  const binaries: Binary[] = [];
  for (const [name, task] of Object.entries(tasks)) {
    if (NOT_COMPILED.includes(name)) continue;
    const command = typeof task === "string"
      ? task
      : typeof task === "object" && task !== null && "command" in task &&
          typeof task.command === "string"
      ? task.command
      : undefined;
    if (command === undefined) continue;
    const words = command.trim().split(/\s+/);
    if (words[0] !== "deno" || words[1] !== "run") continue;
    const at = words.findIndex((w, i) => i > 1 && /^tasks\/[\w.-]+\.ts$/.test(w));
    if (at < 0) continue;
    const flags: string[] = [];
    for (const flag of words.slice(2, at)) {
      if (LOAD_FLAGS.test(flag)) continue;
      if (!RUN_FLAGS.test(flag)) {
        throw new Error(
          `deno.json task "${name}": flag ${flag} is neither a permission nor a load flag; ` +
            `teach tasks/compile.ts whether a binary keeps it`,
        );
      }
      flags.push(flag);
    }
    binaries.push({ name, script: words[at]!, flags, args: words.slice(at + 1) });
  }
  return binaries;
}

/** Every binary of this checkout's deno.json. */
export const BINARIES: readonly Binary[] = binariesOf(denoJson.tasks);

/**
 * The URL of a module of this repository: a file: URL in a checkout, the
 * same http(s) URL prefix when this script itself runs from a URL.
 */
function moduleUrl(fromRoot: string): string {
  return new URL(`../${fromRoot}`, import.meta.url).href;
}

/** Options of {@link compileArgs}. */
export interface CompileOptions {
  /** Output folder (created by deno compile). */
  outDir: string;
  /** `deno compile --target`, e.g. `aarch64-apple-darwin`. */
  target?: string;
  /** Lock file to check against; default: the one of the deno.json found from the cwd. */
  lock?: string;
  /** Type-check while compiling (default true). */
  check?: boolean;
}

/**
 * Arguments of `deno` that build `binary`.
 *
 * @example
 * ```ts
 * const [binary] = BINARIES;
 * new Deno.Command("deno", { args: compileArgs(binary!, { outDir: "dist" }) });
 * ```
 */
export function compileArgs(binary: Binary, opts: CompileOptions): string[] {
  return [
    "compile",
    "--frozen",
    ...(opts.lock !== undefined ? [`--lock=${opts.lock}`] : []),
    ...(opts.check === false ? ["--no-check"] : []),
    ...(opts.target !== undefined ? ["--target", opts.target] : []),
    ...COMPILE_INCLUDES.flatMap((path) => ["--include", moduleUrl(path)]),
    ...binary.flags,
    "--output",
    join(opts.outDir, binary.name),
    moduleUrl(binary.script),
    ...binary.args,
  ];
}

/** True when deno compile's error is the failed download of its runtime. */
function isRuntimeDownloadFailure(stderr: string): boolean {
  return /dl\.deno\.land|denort/.test(stderr) &&
    /error sending request|dns error|connect|timed out|download/i.test(stderr);
}

/** The shell-quoted command line, for --list and error messages. */
function shellLine(args: readonly string[]): string {
  const quote = (a: string) => /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`;
  return ["deno", ...args].map(quote).join(" ");
}

const HELP = `Usage: compile [flags]

Builds one single-file binary per task (deno compile) into dist/: ${
  BINARIES.map((b) => b.name).join(", ")
}.
Each binary has the permissions of its deno.json task and runs like it:
  dist/model-validate models/clean/clean-f16.gguf

Flags:
  --out DIR          output folder (default dist)
  --only NAMES       comma-separated binaries to build (default: all)
  --target TRIPLE    cross-compile, e.g. aarch64-apple-darwin, x86_64-pc-windows-msvc
  --lock FILE        lock file to check against (default: deno.json's, from the current folder)
  --no-check         skip type checking (deno task ok type-checks everything)
  --list             print the deno compile commands, build nothing
  -h, --help         this text

deno compile downloads Deno's runtime for the target from dl.deno.land on first use.
Exit codes: 0 built; 2 usage error; 20 the runtime could not be downloaded;
1 deno compile failed otherwise (its output is shown).
`;

/**
 * Runs the task with `args`; returns the exit code.
 *
 * @example
 * ```ts
 * await main(["--only", "model-validate", "--out", "/tmp/bin"]);
 * ```
 */
export async function main(args: string[]): Promise<number> {
  const { values: f, positionals } = parseTaskArgs(args, {
    out: { type: "string" },
    only: { type: "string" },
    target: { type: "string" },
    lock: { type: "string" },
    "no-check": { type: "boolean" },
    list: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (f.help) {
    console.log(HELP);
    return 0;
  }
  if (positionals.length) throw new UsageError(`unexpected arguments: ${positionals.join(" ")}`);
  const str = (v: unknown) => (typeof v === "string" ? v : undefined);
  let selected: readonly Binary[] = BINARIES;
  const only = str(f.only);
  if (only !== undefined) {
    const names = only.split(",").map((n) => n.trim()).filter((n) => n !== "");
    const unknown = names.filter((n) => !BINARIES.some((b) => b.name === n));
    if (unknown.length || names.length === 0) {
      throw new UsageError(
        `--only: unknown binary ${unknown.join(", ") || "(none given)"}; ` +
          `known: ${BINARIES.map((b) => b.name).join(", ")}`,
      );
    }
    selected = BINARIES.filter((b) => names.includes(b.name));
  }
  const target = str(f.target), lock = str(f.lock);
  const opts: CompileOptions = {
    outDir: str(f.out) ?? "dist",
    check: f["no-check"] !== true,
    ...(target !== undefined ? { target } : {}),
    ...(lock !== undefined ? { lock } : {}),
  };
  if (f.list) {
    for (const b of selected) console.log(shellLine(compileArgs(b, opts)));
    return 0;
  }
  const built: string[] = [];
  for (const binary of selected) {
    const argv = compileArgs(binary, opts);
    logLine(`compile: ${binary.name} ← ${binary.script} ${binary.flags.join(" ")}`);
    const { code, stdout, stderr } = await new Deno.Command("deno", {
      args: argv,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const out = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
    if (code !== 0) {
      const cause = out.split("\n").find((l) => /error sending request|dns error/i.test(l));
      if (isRuntimeDownloadFailure(out)) {
        throw new DownloadError(
          `deno compile could not download Deno's runtime for the target (denort) from ` +
            `https://dl.deno.land, which this machine cannot reach` +
            (cause ? ` (${cause.trim().replace(/^\d+:\s*/, "")})` : "") +
            `. Build the binaries where dl.deno.land is reachable (the ` +
            `gguf_build_and_validate workflow does), or use the tasks without compiling: ` +
            `deno task ${binary.name}, or deno run from a URL (docs/reference/compile.md).`,
        );
      }
      console.error(out.trimEnd());
      throw new Error(`deno compile failed for ${binary.name} (exit ${code}): ${shellLine(argv)}`);
    }
    built.push(join(opts.outDir, binary.name));
  }
  for (const path of built) console.log(path);
  return 0;
}

if (import.meta.main) await runTask(() => main(Deno.args));
