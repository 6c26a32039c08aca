/**
 * Worker that hashes one file (sha256, streamed), so that the input's
 * provenance digest is computed on another core while the quantizer works.
 * Started by {@link sha256InWorker} in hash_worker.ts.
 *
 * The worker does nothing else, so it reads synchronously, 256 KiB at a time
 * into one buffer that stays in the core's cache: on a file in the page cache
 * that costs about a third of the system time of 1 MiB reads, and needs no
 * I/O thread.
 *
 * @example
 * ```ts
 * const worker = new Worker(new URL("./sha256_worker.ts", import.meta.url), { type: "module" });
 * worker.postMessage("models/clean/clean-f16.gguf"); // replies { ok: true, hex } or { ok: false, message }
 * ```
 * @module
 */

import { createHash } from "node:crypto";

/** What the worker replies: the digest, or why the file could not be hashed. */
export type Sha256Reply = { ok: true; hex: string } | { ok: false; message: string };

// The worker scope, typed here rather than with the deno.worker lib: hash_worker.ts imports this
// module's types, which keeps the worker in the static module graph (deno cache and lock files
// cover it, so it loads from a URL under --frozen), and a deno.worker lib reference would then
// leak into the window programs that import hash_worker.ts.
const scope = self as unknown as {
  onmessage: ((e: MessageEvent<string>) => void) | null;
  postMessage(message: Sha256Reply): void;
};

/** Bytes per read. */
const READ_BYTES = 1 << 18;

function sha256FileSync(path: string): string {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true });
  } catch (e) {
    throw new Error(`${path}: cannot open (${(e as Error).message})`);
  }
  try {
    const hash = createHash("sha256");
    const buffer = new Uint8Array(READ_BYTES);
    for (let n = file.readSync(buffer); n !== null; n = file.readSync(buffer)) {
      hash.update(buffer.subarray(0, n));
    }
    return hash.digest("hex");
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as Error).message})`);
  } finally {
    file.close();
  }
}

scope.onmessage = (e: MessageEvent<string>) => {
  try {
    scope.postMessage({ ok: true, hex: sha256FileSync(e.data) });
  } catch (err) {
    scope.postMessage({ ok: false, message: (err as Error).message });
  }
};
