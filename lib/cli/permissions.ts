/**
 * What a run may touch, derived from its parsed command line and its spec:
 * the folders it writes (each output folder, and the folder of each output
 * file, since files are written under a temporary name and renamed into
 * place), the hosts it may reach (only with `--hf-repo`), and the
 * environment variables it reads. The launcher grants exactly these; a task
 * run directly checks them first and names the flag to add
 * ({@link assertWritable}).
 *
 * @example
 * ```ts
 * import { writeFolders } from "./permissions.ts";
 * import { parseTaskArgs } from "./spec.ts";
 * import { QUANTIZE_SPEC } from "./specs.ts";
 * writeFolders(QUANTIZE_SPEC, parseTaskArgs(QUANTIZE_SPEC, ["/data/m.gguf"])); // ["/data"]
 * ```
 * @module
 */

import { dirname, resolve } from "node:path";
import { OutputError } from "../errors.ts";
import { BITNET_ENV_VARS } from "./env.ts";
import { activePositionals, type AnyParsedArgs, type TaskSpec, type WriteSpec } from "./spec.ts";

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
