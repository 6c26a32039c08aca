/**
 * The launcher behind every `deno task model-*`, and what it shares with the
 * task it starts. Deno grants permissions when a process starts, and only the
 * task's arguments say which folders a run will write. So `deno task` starts
 * this small script (read, INIT_CWD, and the right to start `deno`), which
 * parses the arguments with the task's own spec, resolves them against the
 * folder the user ran the command from (`INIT_CWD`, set by `deno task`), and
 * re-runs the real script there with exactly what the run may touch: the
 * folders it writes (each output folder, and the folder of each output file,
 * since files are written under a temporary name and renamed into place), the
 * task's environment variables, and the network only for `--hf-repo` (to the
 * Hub's hosts). A task run directly checks its folders first and names the
 * flag to add ({@link assertWritable}).
 *
 * The launcher forwards SIGINT, SIGTERM and SIGHUP to the task and exits with
 * the task's code (128+n when a signal ended it). Each of the two ends with
 * its parent: it checks about once a second that its parent is still the same
 * process ({@link onParentExit}). See docs/explanation/permissions.md.
 *
 * @example
 * ```ts
 * import { launchArgs } from "./launch.ts";
 * import { EXPORT_SPEC } from "./specs.ts";
 * launchArgs(EXPORT_SPEC, ["ckpt", "", "out"], { userCwd: "/home/me", repoRoot: "/src/clean-gguf" });
 * // ["run", "--frozen", "--config=/src/clean-gguf/deno.json", "--allow-read",
 * //  "--allow-write=/home/me/out", "--allow-env=BITNET_STRICT_MODE,...", "/src/clean-gguf/tasks/export_clean_gguf.ts", "ckpt", "", "out"]
 * ```
 * @module
 */

import { dirname, join, resolve } from "node:path";
import { OutputError, UsageError } from "../errors.ts";
import { BITNET_ENV_VARS } from "./env.ts";
import { reportFailure } from "./failure.ts";
import { repositoryRoot } from "./paths.ts";
import {
  activePositionals,
  type AnyParsedArgs,
  parseTaskArgs,
  type TaskSpec,
  type WriteSpec,
} from "./spec.ts";
import { TASK_SPECS } from "./specs.ts";

/** Variables the colour library and the terminal checks read. */
export const TERMINAL_ENV_VARS: readonly string[] = ["NO_COLOR", "FORCE_COLOR", "CI", "TERM"];

/** Set by the launcher to its own pid: the task exits when that process is gone. */
export const LAUNCHER_PID_VAR = "CLEAN_GGUF_LAUNCHER_PID";

function isSet(value: AnyParsedArgs["flags"][string]): boolean {
  return value !== undefined && value !== false;
}

function applies(w: WriteSpec, flags: AnyParsedArgs["flags"]): boolean {
  if (w.when !== undefined && !isSet(flags[w.when])) return false;
  if (w.unless !== undefined && isSet(flags[w.unless])) return false;
  return true;
}

/** Every value of the parsed command line by name: positionals and options. */
function valueOf(parsed: AnyParsedArgs, name: string): string | undefined {
  const v = parsed.args[name] ?? parsed.flags[name];
  return typeof v === "string" ? v : undefined;
}

/**
 * The folders a run writes into, as written on the command line (relative
 * paths are relative to the run's folder), without duplicates.
 *
 * @example
 * ```ts
 * import { parseTaskArgs } from "./spec.ts";
 * import { VALIDATE_SPEC } from "./specs.ts";
 * writeFolders(VALIDATE_SPEC, parseTaskArgs(VALIDATE_SPEC, ["m.gguf", "--report", "out/r.json"])); // ["out"]
 * ```
 */
export function writeFolders(spec: TaskSpec, parsed: AnyParsedArgs): string[] {
  const targets: (readonly [string, WriteSpec | undefined])[] = [
    ...activePositionals(spec, parsed.flags).map((p) => [p.name, p.writes] as const),
    ...Object.entries(spec.options).map(([name, o]) => [name, o.writes] as const),
  ];
  const folders: string[] = [];
  for (const [name, writes] of targets) {
    if (!writes || !applies(writes, parsed.flags)) continue;
    const value = valueOf(parsed, name);
    const beside = writes.besideOf === undefined ? undefined : valueOf(parsed, writes.besideOf);
    const folder = value !== undefined
      ? (writes.kind === "dir" ? value : dirname(value))
      : beside !== undefined
      ? dirname(beside)
      : undefined;
    if (folder !== undefined && !folders.includes(folder)) folders.push(folder);
  }
  return folders;
}

/**
 * The hosts a run may reach (Deno `--allow-net` syntax), or an empty list.
 *
 * @example
 * ```ts
 * import { parseTaskArgs } from "./spec.ts";
 * import { EXPORT_SPEC } from "./specs.ts";
 * networkHosts(EXPORT_SPEC, parseTaskArgs(EXPORT_SPEC, ["--hf-repo", "a/b", "--hub-url", "http://127.0.0.1:8080"]));
 * // ["127.0.0.1:8080"]
 * ```
 */
export function networkHosts(spec: TaskSpec, parsed: AnyParsedArgs): string[] {
  const net = spec.network;
  if (net === undefined || !isSet(parsed.flags[net.when])) return [];
  const url = valueOf(parsed, net.urlOption);
  if (url === undefined) return [...net.defaultHosts];
  try {
    return [new URL(url).host];
  } catch {
    return []; // the task itself refuses the malformed URL with a usage error
  }
}

/**
 * The environment variables a run may read: every BITNET_* variable, the
 * terminal's, the launcher's pid, and the network's (e.g. HF_TOKEN) only
 * when it downloads.
 *
 * @example
 * ```ts
 * import { parseTaskArgs } from "./spec.ts";
 * import { PROBE_SPEC } from "./specs.ts";
 * envNames(PROBE_SPEC, parseTaskArgs(PROBE_SPEC, ["m.gguf"])).includes("HF_TOKEN"); // false
 * ```
 */
export function envNames(spec: TaskSpec, parsed: AnyParsedArgs): string[] {
  const downloads = spec.network !== undefined && isSet(parsed.flags[spec.network.when]);
  return [
    ...Object.values(BITNET_ENV_VARS),
    ...TERMINAL_ENV_VARS,
    LAUNCHER_PID_VAR,
    ...(downloads ? spec.network!.env : []),
  ];
}

/**
 * Checks, before anything is written, that the run may write every folder it
 * will write; when one is not granted (a script run with `deno run` without
 * `--allow-write` for it), an {@link OutputError} (exit 8) names the exact
 * flag to add. An interactive run is asked first.
 *
 * @example
 * ```ts
 * import { parseTaskArgs } from "./spec.ts";
 * import { EXPORT_SPEC } from "./specs.ts";
 * assertWritable(EXPORT_SPEC, parseTaskArgs(EXPORT_SPEC, ["ckpt", "", "/data/out"]));
 * ```
 */
export function assertWritable(spec: TaskSpec, parsed: AnyParsedArgs): void {
  const refused: string[] = [];
  for (const folder of writeFolders(spec, parsed)) {
    const path = resolve(folder);
    const desc = { name: "write", path } as const;
    let state = Deno.permissions.querySync(desc).state;
    if (state === "prompt") state = Deno.permissions.requestSync(desc).state;
    if (state !== "granted") refused.push(path);
  }
  if (refused.length === 0) return;
  throw new OutputError(
    `${spec.name} may not write to ${refused.join(", ")}: add ${
      refused.map((p) => `--allow-write=${p}`).join(" ")
    } to the deno run command (deno task ${spec.name} grants it by itself)`,
  );
}

/** Signals a run cleans up on, and the launcher passes on to its task. */
export const STOP_SIGNALS: readonly Deno.Signal[] = ["SIGHUP", "SIGINT", "SIGTERM"];
/** Signal numbers, for the 128 + n exit code of a process a signal ended (as the shell says). */
export const SIGNAL_NUMBERS: Readonly<Partial<Record<Deno.Signal, number>>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGABRT: 6,
  SIGKILL: 9,
  SIGSEGV: 11,
  SIGPIPE: 13,
  SIGTERM: 15,
};

/** How often the parent is checked, in milliseconds. */
const PARENT_POLL_MS = 1000;

/**
 * Calls `onGone` once when the parent process is no longer `parentPid`: a
 * parent that is gone (killed with SIGKILL, say) leaves its child re-parented,
 * and `Deno.ppid` changes. The timer is unref'd: it never keeps a finished run
 * alive. Returns a function that stops watching.
 *
 * @example
 * ```ts
 * const stop = onParentExit(Deno.ppid, () => Deno.exit(143));
 * stop();
 * ```
 */
export function onParentExit(parentPid: number, onGone: () => void): () => void {
  const timer = setInterval(() => {
    if (Deno.ppid === parentPid) return;
    clearInterval(timer);
    onGone();
  }, PARENT_POLL_MS);
  Deno.unrefTimer(timer);
  return () => clearInterval(timer);
}

/** Where the launcher stands. */
export interface LaunchContext {
  /** The user's folder: relative paths are resolved against it, and the task runs there. */
  readonly userCwd: string;
  /** The checkout (deno.json, deno.lock and the task scripts). */
  readonly repoRoot: string;
  /** BITNET_NATIVE_KERNELS as set (a library an engine task may load), if set. */
  readonly nativeKernels?: string;
}

/**
 * `deno` arguments that run the task with the permissions its arguments need.
 * Bad arguments are the task's own {@link UsageError}s (parsed by the same spec).
 *
 * @example
 * ```ts
 * import { PROBE_SPEC } from "./specs.ts";
 * launchArgs(PROBE_SPEC, ["m.gguf"], { userCwd: "/tmp", repoRoot: "/src" }).some((a) => a.startsWith("--allow-write")); // false
 * ```
 */
export function launchArgs(spec: TaskSpec, argv: readonly string[], ctx: LaunchContext): string[] {
  const parsed: AnyParsedArgs = parseTaskArgs(spec, argv);
  const writes = parsed.flags.help ? [] : writeFolders(spec, parsed);
  const hosts = parsed.flags.help ? [] : networkHosts(spec, parsed);
  const folders = writes.map((folder) => resolve(ctx.userCwd, folder));
  const native = spec.engine && ctx.nativeKernels ? resolve(ctx.userCwd, ctx.nativeKernels) : null;
  const withComma = [...folders, ...(native ? [native] : [])].find((f) => f.includes(","));
  if (withComma !== undefined) {
    throw new UsageError(
      `${withComma}: deno cannot grant access to a path with a comma; choose another ` +
        `folder, or run ${spec.script} with deno run and your own permissions`,
    );
  }
  return [
    "run",
    "--frozen",
    `--config=${join(ctx.repoRoot, "deno.json")}`,
    "--allow-read",
    ...folders.map((f) => `--allow-write=${f}`),
    `--allow-env=${envNames(spec, parsed).join(",")}`,
    ...(hosts.length > 0 ? [`--allow-net=${hosts.join(",")}`] : []),
    ...(native ? [`--allow-ffi=${native}`] : []),
    ...(spec.v8Flags?.length ? [`--v8-flags=${spec.v8Flags.join(",")}`] : []),
    join(ctx.repoRoot, spec.script),
    ...argv,
  ];
}

/** The launcher's exit code for the task's status. */
function exitCodeOfStatus(status: Deno.CommandStatus): number {
  if (status.signal === null) return status.code;
  return 128 + (SIGNAL_NUMBERS[status.signal] ?? 0);
}

/** Runs the task `argv[0]` with the rest of `argv`; returns its exit code. */
export async function launch(argv: readonly string[]): Promise<number> {
  const [name = "", ...args] = argv;
  const spec = TASK_SPECS[name];
  const repoRoot = repositoryRoot();
  if (spec === undefined || repoRoot === null) {
    return reportFailure(new UsageError(`launch: no task ${JSON.stringify(name)} in a checkout`));
  }
  const userCwd = Deno.env.get("INIT_CWD") || Deno.cwd();
  const nativeKernels = Deno.env.get(BITNET_ENV_VARS.nativeKernels) || undefined;
  let denoArgs: string[];
  try {
    // Defaults are resolved as the task will resolve them: from the user's folder.
    Deno.chdir(userCwd);
    denoArgs = launchArgs(spec, args, {
      userCwd,
      repoRoot,
      ...(nativeKernels ? { nativeKernels } : {}),
    });
  } catch (e) {
    return reportFailure(e);
  }
  const child = new Deno.Command("deno", {
    args: denoArgs,
    cwd: userCwd,
    env: { [LAUNCHER_PID_VAR]: String(Deno.pid) },
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  const kill = (signal: Deno.Signal) => {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  };
  const forward = STOP_SIGNALS.map((signal) => {
    const handler = () => kill(signal);
    Deno.addSignalListener(signal, handler);
    return () => Deno.removeSignalListener(signal, handler);
  });
  // `deno task` killed (SIGKILL cannot be forwarded): stop the task instead of leaving it running.
  const stopWatching = onParentExit(Deno.ppid, () => kill("SIGTERM"));
  const status = await child.status;
  stopWatching();
  for (const remove of forward) remove();
  return exitCodeOfStatus(status);
}

if (import.meta.main) Deno.exit(await launch(Deno.args));
