/**
 * Worker that computes sha256 on another core, for two jobs: a whole file
 * by path (started by {@link sha256InWorker} in hash_worker.ts), or a ring of
 * shared slots that the main thread fills in order (lib/io/sha256_ring.ts):
 * each slot is hashed and, for an output file, written at its offset here,
 * so the disk copy never waits for the main thread's event loop to turn.
 *
 * The ring is run synchronously: the worker waits on the slots' states with
 * `Atomics.wait` and replies only once, with the digest (or why it failed).
 *
 * @example
 * ```ts
 * const worker = new Worker(new URL("./sha256_worker.ts", import.meta.url), { type: "module" });
 * worker.postMessage({ kind: "file", path: "models/clean/clean-f16.gguf" }); // replies { kind: "file", ok: true, hex }
 * // or: worker.postMessage({ kind: "ring", control, meta, slots, writePath: null }); see sha256_ring.ts
 * ```
 * @module
 */

import { createHash } from "node:crypto";
import { sha256FileSync } from "./hash.ts";
import { RING_FAILED, RING_STATES, SLOT_EMPTY, SLOT_FULL, SLOT_STOP } from "./sha256_ring.ts";

/**
 * What the worker is asked: a file's digest, or to run a ring (layout in
 * sha256_ring.ts: `control` holds the failure flag then one state per slot,
 * `meta` each slot's length and file offset; `writePath` the file the slots are
 * also written to, or null).
 */
export type Sha256Request =
  | { kind: "file"; path: string }
  | {
    kind: "ring";
    control: SharedArrayBuffer;
    meta: SharedArrayBuffer;
    slots: SharedArrayBuffer[];
    writePath: string | null;
  };

/** What it replies: a file's (or a ring's) digest, or why it could not finish. */
export type Sha256Reply =
  | { kind: "file"; ok: true; hex: string }
  | { kind: "file"; ok: false; message: string };

// The worker scope, typed here rather than with the deno.worker lib: hash_worker.ts and
// pipelined_writer.ts import this module's types, which keeps the worker in the static module
// graph (deno cache and lock files cover it, so it loads from a URL under --frozen), and a
// deno.worker lib reference would then leak into the window programs that import them.
const scope = self as unknown as {
  onmessage: ((e: MessageEvent<Sha256Request>) => void) | null;
  postMessage(message: Sha256Reply): void;
};

/** Writes all of `bytes` at `position`. */
function writeAt(file: Deno.FsFile, bytes: Uint8Array, position: number): void {
  file.seekSync(position, Deno.SeekMode.Start);
  for (let done = 0; done < bytes.length;) done += file.writeSync(bytes.subarray(done));
}

/**
 * Hashes (and writes) the ring's slots in order until a slot of negative
 * length, the end; returns the digest (null when the ring was cancelled).
 * Slot k of the ring is free again as soon as its bytes are hashed and
 * written.
 */
function runRing(m: Extract<Sha256Request, { kind: "ring" }>): string | null {
  const states = new Int32Array(m.control);
  const meta = new Float64Array(m.meta);
  const views = m.slots.map((s) => new Uint8Array(s));
  const file = m.writePath === null ? null : Deno.openSync(m.writePath, { write: true });
  try {
    const hash = createHash("sha256");
    for (let seq = 0;; seq++) {
      const k = seq % views.length, at = RING_STATES + k;
      for (let state; (state = Atomics.load(states, at)) !== SLOT_FULL;) {
        if (state === SLOT_STOP) return null; // cancelled: nobody waits for a digest
        Atomics.wait(states, at, SLOT_EMPTY);
      }
      const length = meta[2 * k]!;
      if (length < 0) return hash.digest("hex");
      const bytes = views[k]!.subarray(0, length);
      if (file) writeAt(file, bytes, meta[2 * k + 1]!);
      hash.update(bytes);
      Atomics.store(states, at, SLOT_EMPTY);
      Atomics.notify(states, at);
    }
  } finally {
    file?.close();
  }
}

scope.onmessage = (e: MessageEvent<Sha256Request>) => {
  const m = e.data;
  try {
    const hex = m.kind === "file" ? sha256FileSync(m.path) : runRing(m);
    if (hex !== null) scope.postMessage({ kind: "file", ok: true, hex });
  } catch (err) {
    if (m.kind === "ring") {
      // The main thread may be waiting for a slot: the flag and a wake-up end its wait.
      const states = new Int32Array(m.control);
      Atomics.store(states, RING_FAILED, 1);
      for (let k = RING_STATES; k < states.length; k++) Atomics.notify(states, k);
    }
    scope.postMessage({ kind: "file", ok: false, message: (err as Error).message });
  }
};
