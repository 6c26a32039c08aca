/**
 * XXH64 (xxHash's 64-bit hash), streaming, in WebAssembly (`xxh64.wat`): the
 * per-tensor digest of gguf-hash manifests and of meta.json's tensor rows.
 * Synchronous once loaded (the module is 1 KB, compiled on first use), so a
 * hasher can be fed from any loop; bytes are copied into the module's memory
 * in pieces of at most 1 MiB, whatever the chunk size. Several hashers fed the
 * same bytes ({@link xxh64UpdateAll}) share one copy.
 *
 * @example
 * ```ts
 * import { Xxh64, xxh64Hex } from "./xxh64.ts";
 * xxh64Hex(new TextEncoder().encode("abc")); // "44bc2cf5ad770999"
 * const h = new Xxh64();
 * h.update(new TextEncoder().encode("a"));
 * h.update(new TextEncoder().encode("bc"));
 * h.hex(); // "44bc2cf5ad770999"
 * ```
 * @module
 */

import { XXH64_WASM } from "./xxh64_wasm.ts";

interface Xxh64Exports {
  memory: WebAssembly.Memory;
  init(state: number, seed: bigint): void;
  update(state: number, input: number, length: number): void;
  digest(state: number): bigint;
}

/** Bytes of one state in the module's memory (xxh64.wat). */
const STATE_BYTES = 80;
/** Where the working state lives; the input area follows it. */
const STATE_AT = 0;
const INPUT_AT = 128;
/** Bytes copied into the module per call. */
const PIECE = 1 << 20;

let loaded: { wasm: Xxh64Exports; heap: Uint8Array } | undefined;

function module(): { wasm: Xxh64Exports; heap: Uint8Array } {
  if (loaded) return loaded;
  const bytes = Uint8Array.from(atob(XXH64_WASM), (c) => c.charCodeAt(0));
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes));
  const wasm = instance.exports as unknown as Xxh64Exports;
  const pages = Math.ceil((INPUT_AT + PIECE) / 65536);
  wasm.memory.grow(Math.max(0, pages - wasm.memory.buffer.byteLength / 65536));
  loaded = { wasm, heap: new Uint8Array(wasm.memory.buffer) };
  return loaded;
}

/** One running XXH64; its 80-byte state is kept outside the module between calls. */
export class Xxh64 {
  #state = new Uint8Array(STATE_BYTES);

  /** Starts a hash with `seed` (0 is what gguf-hash uses). */
  constructor(seed: bigint = 0n) {
    const { wasm, heap } = module();
    wasm.init(STATE_AT, BigInt.asUintN(64, seed));
    this.#state.set(heap.subarray(STATE_AT, STATE_AT + STATE_BYTES));
  }

  /** Feeds bytes. */
  update(bytes: Uint8Array): void {
    xxh64UpdateAll([this], bytes);
  }

  /** The digest so far, as an unsigned 64-bit integer (the hash may still be fed). */
  digest(): bigint {
    const { wasm, heap } = module();
    heap.set(this.#state, STATE_AT);
    return BigInt.asUintN(64, wasm.digest(STATE_AT));
  }

  /** The digest as gguf-hash prints it: 16 hex digits, most significant first. */
  hex(): string {
    return this.digest().toString(16).padStart(16, "0");
  }

  /** @internal The state, for {@link xxh64UpdateAll}. */
  get state(): Uint8Array {
    return this.#state;
  }
}

/**
 * Feeds the same bytes to several hashers, copying them into the module once.
 *
 * @example
 * ```ts
 * const tensor = new Xxh64(), model = new Xxh64();
 * xxh64UpdateAll([tensor, model], new Uint8Array(100));
 * tensor.hex() === model.hex(); // true
 * ```
 */
export function xxh64UpdateAll(hashers: readonly Xxh64[], bytes: Uint8Array): void {
  if (hashers.length === 0 || bytes.length === 0) return;
  const { wasm, heap } = module();
  for (let o = 0; o < bytes.length; o += PIECE) {
    const piece = bytes.subarray(o, Math.min(bytes.length, o + PIECE));
    heap.set(piece, INPUT_AT);
    for (const h of hashers) {
      heap.set(h.state, STATE_AT);
      wasm.update(STATE_AT, INPUT_AT, piece.length);
      h.state.set(heap.subarray(STATE_AT, STATE_AT + STATE_BYTES));
    }
  }
}

/**
 * XXH64 (seed 0) of `bytes` as gguf-hash prints it.
 *
 * @example
 * ```ts
 * xxh64Hex(new Uint8Array(0)); // "ef46db3751d8e999"
 * ```
 */
export function xxh64Hex(bytes: Uint8Array): string {
  const h = new Xxh64();
  h.update(bytes);
  return h.hex();
}
