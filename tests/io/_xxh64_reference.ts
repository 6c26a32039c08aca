/**
 * A plain XXH64 in BigInt arithmetic, written from the xxHash specification
 * (doc/xxhash_spec.md, "XXH64 Algorithm Description"), one shot, slow: the
 * reference the WebAssembly hasher (lib/io/xxh64.ts) is tested against.
 *
 * @module
 */

const M = (1n << 64n) - 1n;
const P1 = 11400714785074694791n;
const P2 = 14029467366897019727n;
const P3 = 1609587929392839161n;
const P4 = 9650029242287828579n;
const P5 = 2870177450012600261n;

const rotl = (x: bigint, r: bigint) => ((x << r) | (x >> (64n - r))) & M;
const round = (acc: bigint, lane: bigint) => (rotl((acc + lane * P2) & M, 31n) * P1) & M;
const merge = (h: bigint, v: bigint) => (((h ^ round(0n, v)) * P1) + P4) & M;

function read(bytes: Uint8Array, at: number, n: number): bigint {
  let v = 0n;
  for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[at + i]!);
  return v;
}

/** XXH64 of `bytes` with `seed`, as an unsigned 64-bit integer. */
export function xxh64Reference(bytes: Uint8Array, seed = 0n): bigint {
  const len = bytes.length;
  let p = 0;
  let h: bigint;
  if (len >= 32) {
    let v1 = (seed + P1 + P2) & M, v2 = (seed + P2) & M, v3 = seed, v4 = (seed - P1) & M;
    for (; p + 32 <= len; p += 32) {
      v1 = round(v1, read(bytes, p, 8));
      v2 = round(v2, read(bytes, p + 8, 8));
      v3 = round(v3, read(bytes, p + 16, 8));
      v4 = round(v4, read(bytes, p + 24, 8));
    }
    h = (rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n)) & M;
    for (const v of [v1, v2, v3, v4]) h = merge(h, v);
  } else {
    h = (seed + P5) & M;
  }
  h = (h + BigInt(len)) & M;
  for (; p + 8 <= len; p += 8) h = ((rotl(h ^ round(0n, read(bytes, p, 8)), 27n) * P1) + P4) & M;
  if (p + 4 <= len) {
    h = ((rotl(h ^ ((read(bytes, p, 4) * P1) & M), 23n) * P2) + P3) & M;
    p += 4;
  }
  for (; p < len; p++) h = (rotl(h ^ ((BigInt(bytes[p]!) * P5) & M), 11n) * P1) & M;
  h ^= h >> 33n;
  h = (h * P2) & M;
  h ^= h >> 29n;
  h = (h * P3) & M;
  return h ^ (h >> 32n);
}
