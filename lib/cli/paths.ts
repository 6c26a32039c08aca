/**
 * Where the repository is, for the defaults that name its files (the bundled
 * fixture) and for the launcher that re-runs a task script. This is the one
 * module that turns its own module URL into a filesystem path: in a checkout
 * that URL is a `file:` URL; run from an http(s) URL or as a compiled binary
 * there is no checkout to point at, and {@link repositoryPath} falls back to
 * the path as written, relative to the working folder.
 *
 * @example
 * ```ts
 * import { repositoryPath, repositoryRoot } from "./paths.ts";
 * repositoryRoot(); // "/home/me/clean-gguf" in a checkout, null from a URL
 * repositoryPath("fixtures/tiny-bitnet"); // "fixtures/tiny-bitnet" from the root, else absolute
 * ```
 * @module
 */

import { isAbsolute, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The checkout's root folder, or null when this module was not loaded from
 * a local file.
 *
 * @example
 * ```ts
 * const root = repositoryRoot();
 * if (root) console.log(`${root}/deno.json`);
 * ```
 */
export function repositoryRoot(): string | null {
  const url = new URL("../../", import.meta.url);
  return url.protocol === "file:" ? fileURLToPath(url) : null;
}

/**
 * A file of the repository as a path the run can open: relative to the
 * working folder when it lies inside it (so messages stay short), absolute
 * otherwise; `rel` as written when there is no checkout or the file is not
 * in it (a compiled binary carries no fixture).
 *
 * @example
 * ```ts
 * repositoryPath("fixtures/tiny-bitnet");
 * ```
 */
export function repositoryPath(rel: string): string {
  const root = repositoryRoot();
  if (root === null) return rel;
  const path = join(root, rel);
  try {
    Deno.statSync(path);
    const fromCwd = relative(Deno.cwd(), path);
    return fromCwd !== "" && !fromCwd.startsWith("..") && !isAbsolute(fromCwd) ? fromCwd : path;
  } catch {
    return rel;
  }
}
