/**
 * SHA-256 fingerprints: of bytes in memory, and of a whole file read in fixed
 * chunks (what `sha256sum` prints, docs/reference/formats.md, "gguf-hash"), with memory bounded by the
 * chunk size whatever the file size.
 *
 * @example
 * ```ts
 * import { sha256File, sha256Hex } from "./hash.ts";
 * sha256Hex(new TextEncoder().encode("abc"));
 * // "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
 * await sha256File("fixtures/tiny-bitnet/config.json");
 * ```
 * @module
 */

import { createHash } from "node:crypto";
import { CleanGgufError, InputError } from "../errors.ts";
import { RandomAccessFile } from "./random_access.ts";

/** Bytes read per step by {@link sha256File}. */
const CHUNK_BYTES = 1 << 20;

/**
 * Lower-case hex SHA-256 of `bytes`.
 *
 * @example
 * ```ts
 * sha256Hex(new Uint8Array(0));
 * // "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
 * ```
 */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Lower-case hex SHA-256 of the file at `path`, streamed 1 MiB at a time
 * (the next read under way while one is hashed). A missing or unreadable file
 * is an {@link InputError}.
 *
 * @example
 * ```ts
 * const digest = await sha256File("fixtures/tiny-bitnet/model.safetensors");
 * ```
 */
export async function sha256File(path: string): Promise<string> {
  const file = await RandomAccessFile.open(path);
  const hash = createHash("sha256");
  try {
    for await (const chunk of file.stream(0, file.size, CHUNK_BYTES)) hash.update(chunk);
  } catch (e) {
    if (e instanceof CleanGgufError) throw e;
    throw new InputError(`${path}: cannot read (${(e as Error).message})`, { cause: e });
  } finally {
    file.close();
  }
  return hash.digest("hex");
}
