/**
 * `deno task compile [flags]`: builds one single-file binary per task with
 * `deno compile` (dist/model-export, dist/model-validate, ...), from the task
 * specs (lib/cli/specs.ts). Deno fixes a binary's permissions when it is built,
 * so a binary cannot be narrowed to the folders of one run as `deno task`
 * is (lib/cli/launch.ts): it may read anything and write wherever its
 * arguments point (`--allow-write`), reads only the task's environment
 * variables, and has no network; docs/explanation/permissions.md says why.
 * The worker modules (the WebAssembly kernels' threads, the sha256 of large
 * inputs) are added with `--include`: they are started with
 * `new Worker(new URL(...))`, which `deno compile` does not follow (the wasm
 * bytes themselves are a TypeScript module and come with the module graph).
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

import { join, resolve } from "node:path";
import { DownloadError, UsageError } from "../lib/errors.ts";
import { BITNET_ENV_VARS } from "../lib/cli/env.ts";
import { TERMINAL_ENV_VARS } from "../lib/cli/launch.ts";
import { runTask, type TaskBody } from "../lib/cli/run.ts";
import type { TaskSpec } from "../lib/cli/spec.ts";
import { COMPILE_SPEC, TASK_SPECS } from "../lib/cli/specs.ts";

/** One binary: its name (the deno.json task's), script and run-time flags. */
export interface Binary {
  /** Task name, also the file name under the output folder, e.g. `model-export`. */
  name: string;
  /** Script path from the repository root, e.g. `tasks/export_clean_gguf.ts`. */
  script: string;
  /** Permission (and V8) flags the binary runs with. */
  flags: string[];
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
  "lib/validate/count_worker_thread.ts",
  "lib/validate/side_worker_thread.ts",
];

/**
 * The permissions of a task's binary: read anything, write anything (a
 * binary's permissions are fixed at build time; the run writes only the
 * folders its spec names, but that is the program's discipline, not Deno's),
 * the task's environment variables, no network; the V8 settings its spec
 * names (the engine tasks' smaller young generation).
 *
 * @example
 * ```ts
 * import { PROBE_SPEC } from "../lib/cli/specs.ts";
 * binaryFlags(PROBE_SPEC); // ["--allow-read", "--allow-write", "--allow-env=BITNET_STRICT_MODE,..."]
 * ```
 */
export function binaryFlags(spec: TaskSpec): string[] {
  const env = [
    ...Object.values(BITNET_ENV_VARS),
    ...TERMINAL_ENV_VARS,
    ...(spec.network?.env ?? []),
  ];
  const v8 = spec.v8Flags?.length ? [`--v8-flags=${spec.v8Flags.join(",")}`] : [];
  return ["--allow-read", "--allow-write", `--allow-env=${env.join(",")}`, ...v8];
}

/** Every binary: one per task spec. */
export const BINARIES: readonly Binary[] = Object.values(TASK_SPECS).map((spec) => ({
  name: spec.name,
  script: spec.script,
  flags: binaryFlags(spec),
}));

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

/** The task: build the selected binaries, or list their commands. */
export const compileTask: TaskBody<typeof COMPILE_SPEC> = async ({ flags: f }, ctx) => {
  let selected: readonly Binary[] = BINARIES;
  if (f.only !== undefined) {
    const names = f.only.split(",").map((n) => n.trim()).filter((n) => n !== "");
    const unknown = names.filter((n) => !BINARIES.some((b) => b.name === n));
    if (unknown.length || names.length === 0) {
      throw new UsageError(
        `--only: unknown binary ${unknown.join(", ") || "(none given)"}; ` +
          `known: ${BINARIES.map((b) => b.name).join(", ")}`,
      );
    }
    selected = BINARIES.filter((b) => names.includes(b.name));
  }
  // deno task runs this in the repository; relative paths are the user's.
  const userCwd = Deno.env.get("INIT_CWD") || Deno.cwd();
  const opts: CompileOptions = {
    outDir: resolve(userCwd, f.out),
    check: !f["no-check"],
    ...(f.target !== undefined ? { target: f.target } : {}),
    ...(f.lock !== undefined ? { lock: resolve(userCwd, f.lock) } : {}),
  };
  if (f.list) {
    for (const b of selected) console.log(shellLine(compileArgs(b, opts)));
    return 0;
  }
  const built: string[] = [];
  for (const binary of selected) {
    ctx.log(`compile: ${binary.name} ← ${binary.script} ${binary.flags.join(" ")}`);
    built.push(await compileOne(binary, opts));
  }
  for (const path of built) console.log(path);
  return 0;
};

/** Builds one binary; returns its path. */
async function compileOne(binary: Binary, opts: CompileOptions): Promise<string> {
  const argv = compileArgs(binary, opts);
  const { code, stdout, stderr } = await new Deno.Command("deno", {
    args: argv,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const out = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  if (code === 0) return join(opts.outDir, binary.name);
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

if (import.meta.main) await runTask(COMPILE_SPEC, compileTask);
