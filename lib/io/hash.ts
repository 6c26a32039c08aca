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
import { InputError } from "../errors.ts";

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
 * Lower-case hex SHA-256 of the file at `path`, streamed through one reused
 * 1 MiB buffer. A missing or unreadable file is an {@link InputError}.
 *
 * @example
 * ```ts
 * const digest = await sha256File("fixtures/tiny-bitnet/model.safetensors");
 * ```
 */
export async function sha256File(path: string): Promise<string> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    throw new InputError(`${path}: cannot open (${(e as Error).message})`, { cause: e });
  }
  try {
    const hash = createHash("sha256");
    const buf = new Uint8Array(CHUNK_BYTES);
    for (;;) {
      let n: number | null;
      try {
        n = await file.read(buf);
      } catch (e) {
        throw new InputError(`${path}: cannot read (${(e as Error).message})`, { cause: e });
      }
      if (n === null) break;
      hash.update(buf.subarray(0, n));
    }
    return hash.digest("hex");
  } finally {
    file.close();
  }
}
