/**
 * Reading a JSON object from a file, with the file named in every error.
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

/**
 * Reads and parses a JSON object; a missing file is an InputError, anything
 * but a JSON object a FormatError.
 *
 * @example
 * ```ts
 * await readJsonFile("/nonexistent.json"); // throws InputError
 * ```
 */
export async function readJsonFile(path: string): Promise<Record<string, unknown>> {
  const text = await rethrowAs(InputError, `${path}: cannot read`, Deno.readTextFile(path));
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new FormatError(`${path}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new FormatError(`${path}: expected a JSON object`);
  }
  return value as Record<string, unknown>;
}
