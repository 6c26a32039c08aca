/**
 * The launcher behind every `deno task model-*`: Deno grants permissions when
 * a process starts, and only the task's arguments say which folders a run
 * will write. So `deno task` starts this small script (read, INIT_CWD, and
 * the right to start `deno`), which parses the arguments with the task's own
 * spec, resolves them against the folder the user ran the command from
 * (`INIT_CWD`, set by `deno task`), and re-runs the real script there with
 * exactly those folders writable, the task's environment variables readable,
 * and the network only for `--hf-repo` (to the Hub's hosts). It forwards
 * SIGINT, SIGTERM and SIGHUP to the task, exits with the task's code (128+n
 * when a signal ended it), and stops the task when its own parent is gone.
 * See docs/explanation/permissions.md.
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

import { join, resolve } from "node:path";
import { UsageError } from "../errors.ts";
import { reportFailure } from "./failure.ts";
import { onParentExit, SIGNAL_NUMBERS, STOP_SIGNALS } from "./lifeline.ts";
import { repositoryRoot } from "./paths.ts";
import { envNames, LAUNCHER_PID_VAR, networkHosts, writeFolders } from "./permissions.ts";
import { type AnyParsedArgs, parseTaskArgs, type TaskSpec } from "./spec.ts";
import { TASK_SPECS } from "./specs.ts";

/** Where the launcher stands. */
export interface LaunchContext {
  /** The user's folder: relative paths are resolved against it, and the task runs there. */
  readonly userCwd: string;
  /** The checkout (deno.json, deno.lock and the task scripts). */
  readonly repoRoot: string;
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
  const withComma = folders.find((f) => f.includes(","));
  if (withComma !== undefined) {
    throw new UsageError(
      `${withComma}: deno cannot grant write access to a path with a comma; choose another ` +
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
  let denoArgs: string[];
  try {
    // Defaults are resolved as the task will resolve them: from the user's folder.
    Deno.chdir(userCwd);
    denoArgs = launchArgs(spec, args, { userCwd, repoRoot });
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
