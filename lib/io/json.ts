/**
 * Reading a JSON object from a file, with the file named in every error, and
 * the one test for "a plain JSON object" that every reader of JSON shares.
 *
 * @example
 * ```ts
 * import { readJsonFile } from "./json.ts";
 * const config = await readJsonFile("fixtures/tiny-bitnet/config.json");
 * config.hidden_size; // 256
 * ```
 * @module
 */

import { FormatError, InputError, rethrowAs } from "../errors.ts";

/** A plain JSON object. */
export type JsonObject = Record<string, unknown>;

/**
 * True for a non-null, non-array object.
 *
 * @example
 * ```ts
 * import { isJsonObject } from "./json.ts";
 * isJsonObject({}); // true
 * isJsonObject([]); // false
 * ```
 */
export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Reads and parses a JSON object; a missing file is an InputError, anything
 * but a JSON object a FormatError.
 *
 * @example
 * ```ts
 * await readJsonFile("/nonexistent.json"); // throws InputError
 * ```
 */
export async function readJsonFile(path: string): Promise<JsonObject> {
  const text = await rethrowAs(InputError, `${path}: cannot read`, Deno.readTextFile(path));
  return parseJsonObject(text, path);
}

/** `text` parsed as a JSON object; anything else is a FormatError naming `path`. */
function parseJsonObject(text: string, path: string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new FormatError(`${path}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
  if (!isJsonObject(value)) throw new FormatError(`${path}: expected a JSON object`);
  return value;
}

/**
 * The JSON object of an optional file: undefined when the file does not
 * exist; any other failure to look at it (a permission, say) is an
 * InputError, never taken for absence.
 *
 * @example
 * ```ts
 * import { readJsonIfExists } from "./json.ts";
 * await readJsonIfExists("/nonexistent/tokenizer_config.json"); // undefined
 * ```
 */
export async function readJsonIfExists(path: string): Promise<JsonObject | undefined> {
  // One read, its NotFound taken for absence: no stat beforehand for the file to change after.
  const text = await Deno.readTextFile(path).catch((e) => {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new InputError(`${path}: cannot read (${(e as Error).message})`, { cause: e });
  });
  return text === undefined ? undefined : parseJsonObject(text, path);
}
