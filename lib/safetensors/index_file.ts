/**
 * The index of a sharded Hugging Face checkpoint, `model.safetensors.index.json`:
 * `{"metadata": {...}, "weight_map": {tensor name: shard file name}}`.
 *
 * @example
 * ```ts
 * import { parseShardIndex } from "./index_file.ts";
 * const index = parseShardIndex(
 *   '{"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}',
 *   "model.safetensors.index.json",
 * );
 * index.shards; // ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
 * ```
 * @module
 */

import { isJsonObject } from "../io/json.ts";
import { FormatError } from "../errors.ts";

/** File name of the index in a checkpoint folder. */
export const SHARD_INDEX_NAME = "model.safetensors.index.json";

/** A parsed shard index. */
export interface ShardIndex {
  /** Tensor name → shard file name (a plain file name inside the checkpoint folder). */
  readonly weightMap: ReadonlyMap<string, string>;
  /** Distinct shard file names, sorted. */
  readonly shards: readonly string[];
}

/** A shard must be a file in the checkpoint folder itself, never a path that leaves it. */
function isPlainFileName(name: string): boolean {
  return name.length > 0 && name !== "." && name !== ".." && !/[/\\\0]/.test(name);
}

/**
 * Parses the text of an index file; anything malformed is a {@link FormatError}
 * naming `file` and the offending key.
 *
 * @example
 * ```ts
 * const index = parseShardIndex('{"weight_map": {"a": "s1.safetensors"}}', "model.safetensors.index.json");
 * index.weightMap.get("a"); // "s1.safetensors"
 * // '{"weight_map": {}}' or '{"weight_map": {"a": "../x"}}' would throw a FormatError
 * ```
 */
export function parseShardIndex(text: string, file: string): ShardIndex {
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (e) {
    throw new FormatError(`${file}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
  if (!isJsonObject(root)) throw new FormatError(`${file}: must be a JSON object`);
  const map = root["weight_map"];
  if (!isJsonObject(map)) {
    throw new FormatError(`${file}: "weight_map" is missing or not an object`);
  }
  const weightMap = new Map<string, string>();
  for (const [name, shard] of Object.entries(map)) {
    if (typeof shard !== "string" || !isPlainFileName(shard)) {
      throw new FormatError(
        `${file}: weight_map["${name}"] must be the file name of a shard in the same folder, found ${
          JSON.stringify(shard)
        }`,
      );
    }
    weightMap.set(name, shard);
  }
  if (weightMap.size === 0) throw new FormatError(`${file}: "weight_map" lists no tensors`);
  const shards = [...new Set(weightMap.values())].sort();
  return { weightMap, shards };
}
