/**
 * Running the tasks as a user does: `deno task --config <repo>/deno.json
 * <task> ...` from a folder of the user's, outside the repository, with the
 * caller's environment minus any BITNET_* variable.
 *
 * @example
 * ```ts
 * import { userTask } from "./_user.ts";
 * const r = await userTask("/tmp/me", "model-probe", ["m.gguf"]);
 * console.log(r.code, r.stdout);
 * ```
 * @module
 */

import { REPO } from "./_scan.ts";

/** A finished run. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The caller's environment without BITNET_* variables and without INIT_CWD,
 * colours off. INIT_CWD must go: `deno task` (like npm) keeps an INIT_CWD it
 * inherits, so under `deno task test` a nested `deno task` would take the
 * repository for the user's folder.
 */
export function userEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env = Object.fromEntries(
    Object.entries(Deno.env.toObject()).filter(([k]) =>
      !k.startsWith("BITNET_") && k !== "INIT_CWD"
    ),
  );
  return { ...env, NO_COLOR: "1", ...extra };
}

/** `deno <args>` in `cwd`, with {@link userEnv}, stdout and stderr collected. */
export async function denoIn(
  cwd: string,
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<Run> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...args],
    cwd,
    clearEnv: true,
    env: userEnv(env),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(180_000),
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** `deno task --config <repo>/deno.json <name> ...args` in `cwd`. */
export function userTask(
  cwd: string,
  name: string,
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<Run> {
  return denoIn(cwd, ["task", "-q", "--config", `${REPO}/deno.json`, name, ...args], env);
}

/** A run's exit code and output, for assertion messages. */
export function show(name: string, args: readonly string[], r: Run): string {
  return `${name} ${args.join(" ")}: exit ${r.code}\n--- stdout\n${
    r.stdout.slice(-2000)
  }\n--- stderr\n${r.stderr.slice(-2000)}`;
}

/** True when `path` exists. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
