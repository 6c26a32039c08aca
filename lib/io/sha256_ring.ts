/**
 * A sha256 (and, for an output file, the writes) on another core, fed
 * through a ring of shared slots: the main thread fills a slot and marks it
 * full; the worker (sha256_worker.ts) hashes it, writes it at its offset
 * when the ring has a file, and marks it free. Hand-overs are `Atomics`
 * states, not messages, so neither side waits for the other's event loop:
 * the main thread may run synchronous work for seconds while the worker
 * drains the ring. Memory is `slots × slotBytes` whatever the stream's size.
 *
 * @example
 * ```ts
 * import { Sha256Ring } from "./sha256_ring.ts";
 * const ring = Sha256Ring.start({ slots: 4, slotBytes: 1 << 20, writePath: null });
 * const slot = ring.next(); // waits until the slot is free
 * slot.set(new TextEncoder().encode("abc"));
 * ring.commit(3, 0);
 * console.log(await ring.finish()); // "ba7816bf…15ad"
 * ```
 * @module
 */

import { OutputError } from "../errors.ts";
// A type import keeps the worker module in the static graph (see hash_worker.ts).
import type { Sha256Reply, Sha256Request } from "./sha256_worker.ts";

/** Slot states: free for the main thread, full for the worker, or the ring cancelled. */
export const SLOT_EMPTY = 0;
export const SLOT_FULL = 1;
export const SLOT_STOP = 2;
/** Index of the failure flag in the control words; slot k's state is at `RING_STATES + k`. */
export const RING_FAILED = 0;
export const RING_STATES = 1;

/**
 * How long the main thread waits for one slot before it gives up: the worker
 * frees a slot in milliseconds, so this only ends a wait on a worker that died
 * without raising the failure flag (a module that failed to load, say).
 */
const STALL_MS = 60_000;

/** Slots of a ring, and the file its slots are also written to (null: hash only). */
export interface Sha256RingOptions {
  slots: number;
  slotBytes: number;
  writePath: string | null;
}

/** The main thread's side of a ring (see the module comment). */
export class Sha256Ring {
  readonly #worker: Worker;
  readonly #states: Int32Array;
  readonly #meta: Float64Array;
  readonly #slots: Uint8Array[];
  readonly #digest: Promise<string>;
  #seq = 0;
  #ended = false;

  private constructor(opts: Sha256RingOptions) {
    const control = new SharedArrayBuffer(4 * (RING_STATES + opts.slots));
    const meta = new SharedArrayBuffer(16 * opts.slots);
    const shared = Array.from({ length: opts.slots }, () => new SharedArrayBuffer(opts.slotBytes));
    this.#states = new Int32Array(control);
    this.#meta = new Float64Array(meta);
    this.#slots = shared.map((s) => new Uint8Array(s));
    this.#worker = new Worker(new URL("./sha256_worker.ts", import.meta.url), { type: "module" });
    const worker = this.#worker;
    this.#digest = new Promise<string>((resolve, reject) => {
      worker.onmessage = (e: MessageEvent<Sha256Reply>) => {
        worker.terminate();
        if (e.data.ok) resolve(e.data.hex);
        else reject(new Error(e.data.message));
      };
      worker.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        worker.terminate();
        Atomics.store(this.#states, RING_FAILED, 1);
        reject(new Error(`the hashing worker failed (${e.message})`));
      };
    });
    this.#digest.catch(() => {}); // surfaced by finish(), or by next() through the flag
    const request: Sha256Request = {
      kind: "ring",
      control,
      meta,
      slots: shared,
      writePath: opts.writePath,
    };
    worker.postMessage(request);
  }

  /**
   * Starts the worker.
   *
   * @example
   * ```ts
   * const ring = Sha256Ring.start({ slots: 8, slotBytes: 1 << 20, writePath: "/tmp/out.bin" });
   * ```
   */
  static start(opts: Sha256RingOptions): Sha256Ring {
    if (!(opts.slots >= 1 && opts.slotBytes >= 1)) {
      throw new RangeError(`Sha256Ring: ${opts.slots} slots of ${opts.slotBytes} bytes`);
    }
    return new Sha256Ring(opts);
  }

  /** Bytes per slot. */
  get slotBytes(): number {
    return this.#slots[0]!.length;
  }

  /** True once the worker reported a failure (its message comes with {@link finish}). */
  get failed(): boolean {
    return Atomics.load(this.#states, RING_FAILED) !== 0;
  }

  /**
   * The next slot to fill, whole (its first bytes are those of the slot's
   * previous use): waits, blocking this thread, until the worker has freed
   * it. Throws when the worker failed; the caller then learns why from
   * {@link finish}.
   */
  next(): Uint8Array {
    if (this.#ended) throw new OutputError("sha256 ring: next() after finish()");
    const k = this.#seq % this.#slots.length, at = RING_STATES + k;
    const deadline = performance.now() + STALL_MS;
    while (Atomics.load(this.#states, at) !== SLOT_EMPTY) {
      if (this.failed) throw new OutputError("the hashing worker failed");
      if (performance.now() > deadline) throw new OutputError("the hashing worker stalled");
      Atomics.wait(this.#states, at, SLOT_FULL, 100);
    }
    return this.#slots[k]!;
  }

  /** Hands the slot from {@link next} to the worker: its first `length` bytes, to be written at `position`. */
  commit(length: number, position: number): void {
    const k = this.#seq % this.#slots.length;
    this.#meta[2 * k] = length;
    this.#meta[2 * k + 1] = position;
    Atomics.store(this.#states, RING_STATES + k, SLOT_FULL);
    Atomics.notify(this.#states, RING_STATES + k);
    this.#seq++;
  }

  /** Ends the stream: resolves with the lower-case hex sha256 of every committed byte, in order. */
  finish(): Promise<string> {
    if (!this.#ended) {
      try {
        this.next();
        this.commit(-1, 0);
      } catch {
        // the worker failed: the digest rejects with its reason
      }
    }
    this.#ended = true;
    return this.#digest;
  }

  /**
   * Stops the worker (on failure, or once the digest is in: harmless then).
   * A worker blocked in `Atomics.wait` is not interrupted by `terminate()`
   * and would keep the process alive: every slot is first marked
   * {@link SLOT_STOP} (a wait that has not begun returns at once) and woken.
   */
  cancel(): void {
    this.#ended = true;
    for (let at = RING_STATES; at < this.#states.length; at++) {
      Atomics.store(this.#states, at, SLOT_STOP);
      Atomics.notify(this.#states, at);
    }
    this.#worker.terminate();
  }
}
