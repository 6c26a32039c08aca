/**
 * Which files of a Hub model repository an export needs, and what each one's
 * content must hash to: the sha256 the Hub records for LFS files (`lfs.oid`),
 * or the git blob sha1 (`oid`) of small files kept in git.
 *
 * @example
 * ```ts
 * import { planMetadataFiles, planWeightFiles } from "./select.ts";
 * const entries = [
 *   { type: "file", path: "config.json", size: 10, oid: "1".repeat(40) },
 *   { type: "file", path: "tokenizer.json", size: 10, oid: "2".repeat(40) },
 *   { type: "file", path: "model.safetensors", size: 99, lfs: { oid: "3".repeat(64), size: 99 } },
 * ];
 * planMetadataFiles("me/model", entries).map((f) => f.path); // ["config.json", "tokenizer.json"]
 * planWeightFiles("me/model", entries, undefined)[0]?.expected; // { kind: "sha256", hex: "333…" }
 * ```
 * @module
 */

import { DownloadError } from "../errors.ts";
import { parseShardIndex, SHARD_INDEX_NAME } from "../safetensors/index_file.ts";

/** One entry of the Hub's tree listing (the fields we use). */
export interface HubTreeEntry {
  readonly type: string;
  readonly path: string;
  readonly size: number;
  readonly oid?: string;
  readonly lfs?: { readonly oid: string; readonly size: number };
}

/** One file to download, and what it must hash to. */
export interface PlannedFile {
  readonly path: string;
  readonly size: number;
  readonly expected: { readonly kind: "sha256" | "git-sha1"; readonly hex: string };
}

/** Files the export needs or uses, besides the weights. */
const REQUIRED_FILES = ["config.json", "tokenizer.json"] as const;
const OPTIONAL_FILES = [
  "generation_config.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "tokenizer.model",
] as const;

/** The listing's files (not folders), by path. */
function filesOf(entries: readonly HubTreeEntry[]): Map<string, HubTreeEntry> {
  return new Map(entries.filter((e) => e.type === "file").map((e) => [e.path, e]));
}

function planned(repo: string, e: HubTreeEntry): PlannedFile {
  if (e.lfs) {
    if (!/^[0-9a-f]{64}$/.test(e.lfs.oid)) {
      throw new DownloadError(`${repo}: ${e.path} has a malformed LFS oid "${e.lfs.oid}"`);
    }
    return { path: e.path, size: e.lfs.size, expected: { kind: "sha256", hex: e.lfs.oid } };
  }
  if (e.oid === undefined || !/^[0-9a-f]{40}$/.test(e.oid)) {
    throw new DownloadError(`${repo}: ${e.path} has no LFS oid and no git oid to check it against`);
  }
  return { path: e.path, size: e.size, expected: { kind: "git-sha1", hex: e.oid } };
}

/**
 * The files to fetch before the weights: config.json, tokenizer files, and the
 * shard index when there is one. Only top-level files are considered. A
 * missing required file is a {@link DownloadError} naming it.
 *
 * @example
 * ```ts
 * const first = planMetadataFiles("me/model", [
 *   { type: "file", path: "config.json", size: 10, oid: "1".repeat(40) },
 *   { type: "file", path: "tokenizer.json", size: 10, oid: "2".repeat(40) },
 *   { type: "file", path: "tokenizer_config.json", size: 10, oid: "4".repeat(40) },
 * ]);
 * first.map((f) => f.path); // ["config.json", "tokenizer.json", "tokenizer_config.json"]
 * ```
 */
export function planMetadataFiles(repo: string, entries: readonly HubTreeEntry[]): PlannedFile[] {
  const files = filesOf(entries);
  const missing = REQUIRED_FILES.filter((f) => !files.has(f));
  if (missing.length > 0) {
    throw new DownloadError(
      `${repo}: the repository has no ${missing.join(" and ")} (an export needs ${
        REQUIRED_FILES.join(", ")
      } and safetensors weights)`,
    );
  }
  const names = [...REQUIRED_FILES, ...OPTIONAL_FILES, SHARD_INDEX_NAME];
  return names.filter((n) => files.has(n)).map((n) => planned(repo, files.get(n)!));
}

/**
 * The safetensors files to fetch: the shards named by the index (all must be
 * in the listing), or every top-level `*.safetensors` when there is no index.
 *
 * @example
 * ```ts
 * const shard = (n: number) => ({
 *   type: "file", path: `model-0000${n}-of-00002.safetensors`, size: 99,
 *   lfs: { oid: String(n).repeat(64), size: 99 },
 * });
 * const index = JSON.stringify({
 *   weight_map: { a: "model-00001-of-00002.safetensors", b: "model-00002-of-00002.safetensors" },
 * });
 * const weights = planWeightFiles("me/model", [shard(2), shard(1)], index);
 * weights.map((f) => f.path); // ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
 * ```
 */
export function planWeightFiles(
  repo: string,
  entries: readonly HubTreeEntry[],
  indexText: string | undefined,
): PlannedFile[] {
  const files = filesOf(entries);
  let names: readonly string[];
  if (indexText !== undefined) {
    names = parseShardIndex(indexText, `${repo}/${SHARD_INDEX_NAME}`).shards;
    const absent = names.filter((n) => !files.has(n)).join(", ");
    if (absent) {
      const which = `${SHARD_INDEX_NAME} names ${absent}`;
      throw new DownloadError(`${repo}: ${which}, which the repository does not have`);
    }
  } else {
    names = [...files.keys()].filter((p) => !p.includes("/") && p.endsWith(".safetensors")).sort();
  }
  if (names.length === 0) {
    throw new DownloadError(`${repo}: the repository has no .safetensors weights`);
  }
  return names.map((n) => planned(repo, files.get(n)!));
}
