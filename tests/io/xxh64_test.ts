/**
 * The WebAssembly XXH64 (lib/io/xxh64.ts) against the published test vectors
 * of xxHash (its command line's sanity check, seeds 0 and PRIME32), against
 * string vectors of the xxHash documentation, and against a BigInt reference
 * written from the specification, over every split of a stream into chunks.
 */

import assert from "node:assert/strict";
import { Xxh64, xxh64Hex, xxh64UpdateAll } from "../../lib/io/xxh64.ts";
import { XXH64_WASM } from "../../lib/io/xxh64_wasm.ts";
import { assembleXxh64, XXH64_WAT } from "../../tools/build_xxh64.ts";
import { FuzzRng } from "../_fuzz.ts";
import { xxh64Reference } from "./_xxh64_reference.ts";

const PRIME32 = 2654435761n;

/** xxHash's sanity buffer: byte i is the top byte of PRIME32 · PRIME64^i (mod 2^64). */
function sanityBuffer(n: number): Uint8Array {
  const out = new Uint8Array(n);
  let gen = PRIME32;
  for (let i = 0; i < n; i++) {
    out[i] = Number(gen >> 56n);
    gen = (gen * 11400714785074694797n) & ((1n << 64n) - 1n);
  }
  return out;
}

/** (length, seed, XXH64) from xxHash's cli/xsum_sanity_check.c. */
const SANITY: [number, bigint, bigint][] = [
  [0, 0n, 0xEF46DB3751D8E999n],
  [0, PRIME32, 0xAC75FDA2929B17EFn],
  [1, 0n, 0xE934A84ADB052768n],
  [1, PRIME32, 0x5014607643A9B4C3n],
  [4, 0n, 0x9136A0DCA57457EEn],
  [14, 0n, 0x8282DCC4994E35C8n],
  [14, PRIME32, 0xC3BD6BF63DEB6DF0n],
  [222, 0n, 0xB641AE8CB691C174n],
  [222, PRIME32, 0x20CB8AB7AE10C14An],
];

Deno.test("xxh64: xxHash's sanity vectors, for the WebAssembly hasher and the BigInt reference", () => {
  const buf = sanityBuffer(222);
  for (const [len, seed, expected] of SANITY) {
    const h = new Xxh64(seed);
    h.update(buf.subarray(0, len));
    assert.equal(h.digest(), expected, `wasm, length ${len}, seed ${seed}`);
    assert.equal(xxh64Reference(buf.subarray(0, len), seed), expected, `reference, length ${len}`);
  }
});

Deno.test("xxh64: documented string vectors, printed most significant byte first", () => {
  const enc = new TextEncoder();
  assert.equal(xxh64Hex(enc.encode("")), "ef46db3751d8e999");
  assert.equal(xxh64Hex(enc.encode("a")), "d24ec4f1a98c6e5b");
  assert.equal(xxh64Hex(enc.encode("abc")), "44bc2cf5ad770999");
  assert.equal(
    xxh64Hex(enc.encode("Nobody inspects the spammish repetition")),
    "fbcea83c8a378bf1",
  );
});

Deno.test("xxh64: streamed in random chunks equals the reference in one shot (lengths 0–3000, > 1 MiB)", () => {
  const rng = new FuzzRng(15);
  const lengths = [...Array.from({ length: 120 }, (_, i) => i), 255, 256, 257, 1023, 3000];
  lengths.push((1 << 20) + 77);
  for (const len of lengths) {
    const bytes = new Uint8Array(len);
    for (let i = 0; i < len; i++) bytes[i] = rng.u32() & 0xff;
    const seed = len % 3 === 0 ? 0n : BigInt(rng.u32());
    const h = new Xxh64(seed);
    const again = new Xxh64(seed);
    for (let o = 0; o < len;) {
      const step = len > 4096 ? 1 + (rng.u32() % 300_000) : 1 + (rng.u32() % 70);
      const piece = bytes.subarray(o, Math.min(len, o + step));
      xxh64UpdateAll([h, again], piece);
      o += piece.length;
    }
    assert.equal(h.digest(), xxh64Reference(bytes, seed), `length ${len}`);
    assert.equal(again.digest(), h.digest(), "hashers fed together agree");
  }
});

Deno.test("xxh64: lib/io/xxh64_wasm.ts is xxh64.wat assembled (run tools/build_xxh64.ts)", async () => {
  const assembled = await assembleXxh64(await Deno.readTextFile(XXH64_WAT));
  const stored = Uint8Array.from(atob(XXH64_WASM), (c) => c.charCodeAt(0));
  assert.deepEqual(stored, assembled);
});
