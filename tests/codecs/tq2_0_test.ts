import assert from "node:assert/strict";
import {
  blocksFromTrits,
  decodeBlocks,
  dequantizeBlocks,
  quantizeBlocks,
  TQ2_0_LAYOUT,
} from "../../lib/codecs/ternary_blocks.ts";
import { codecOf, GgmlType } from "../../lib/codecs/table.ts";
import { ternarizeAbsmean } from "../../lib/codecs/ternary.ts";
import { f16ToF32, f32ToF16 } from "../../lib/codecs/float.ts";
import { FormatError, NotTernaryError } from "../../lib/errors.ts";
import { mulberry32 } from "../../lib/inference/sampler.ts";
import { randomTrits } from "../_fuzz.ts";

// The per-type names these tests were written against, over the shared block codec.
const L = TQ2_0_LAYOUT;
const tq2_0FromTrits = (t: Int8Array, s: number, name?: string) => blocksFromTrits(L, t, s, name);
const quantizeTQ2_0 = (v: Float32Array, name?: string) => quantizeBlocks(L, v, name);
const decodeTQ2_0 = (b: Uint8Array, n: number, name?: string) => decodeBlocks(L, b, n, name);
const dequantizeTQ2_0 = (b: Uint8Array, n: number) => dequantizeBlocks(L, b, n);
const tq2_0ByteSize = (n: number, name?: string) => codecOf(GgmlType.TQ2_0).byteSize(n, name);
const GGML_TYPE_TQ2_0 = GgmlType.TQ2_0;

/** C lroundf: half away from zero. */
function cLroundf(v: number): number {
  return Math.sign(v) * Math.floor(Math.abs(v) + 0.5);
}

/**
 * Transliteration of ggml-quants.c quantize_row_tq2_0_ref (pointer walk kept):
 *   amax = MAX(amax, fabsf(x[j])); d = amax; id = d ? 1.0f/d : 0.0f;
 *   for j in 0, 32: for m < 32: q = Σn ((lroundf(x[m + n*32]*id) + 1) & 3) << 2n; x += 128
 */
function ggmlQuantizeTQ2_0(src: Float32Array): Uint8Array {
  const nb = src.length / 256;
  const y = new Uint8Array(nb * 66);
  let x = 0;
  for (let i = 0; i < nb; i++) {
    let amax = 0;
    for (let j = 0; j < 256; j++) {
      const a = Math.abs(src[x + j]!);
      amax = amax > a ? amax : a;
    }
    const d = amax;
    const id = d ? Math.fround(1 / d) : 0;
    const h = f32ToF16(d);
    y[i * 66 + 64] = h & 0xff;
    y[i * 66 + 65] = h >> 8;
    for (let j = 0; j < 64; j += 32) {
      for (let m = 0; m < 32; m++) {
        let q = 0;
        for (let n = 0; n < 4; n++) {
          const xi = cLroundf(Math.fround(src[x + m + n * 32]! * id)) + 1;
          q += (xi & 3) << (2 * n);
        }
        y[i * 66 + j + m] = q & 0xff;
      }
      x += 4 * 32;
    }
  }
  return y;
}

/**
 * Transliteration of ggml-quants.c dequantize_row_tq2_0:
 *   for j in 0, 32: for l < 4: for m < 32: q = (qs[j + m] >> (l*2)) & 3; *y++ = (q - 1) * d;
 */
function ggmlDequantizeTQ2_0(x: Uint8Array, k: number): Float32Array {
  const out = new Float32Array(k);
  let y = 0;
  for (let i = 0; i < k / 256; i++) {
    const d = f16ToF32(x[i * 66 + 64]! | (x[i * 66 + 65]! << 8));
    for (let j = 0; j < 64; j += 32) {
      for (let l = 0; l < 4; l++) {
        for (let m = 0; m < 32; m++) {
          const q = (x[i * 66 + j + m]! >> (l * 2)) & 3;
          out[y++] = Math.fround((q - 1) * d);
        }
      }
    }
  }
  return out;
}

/**
 * Expected bytes from the FORMATS.md §6 rule, element by element: element i of a
 * block is in half h = i div 128, byte 32h + (i mod 32), bits 2·((i mod 128) div 32).
 */
function expectedFromTrits(trits: Int8Array, scale: number): Uint8Array {
  const nb = trits.length / 256;
  const out = new Uint8Array(nb * 66);
  for (let k = 0; k < trits.length; k++) {
    const b = Math.floor(k / 256);
    const i = k % 256;
    const h = Math.floor(i / 128);
    const byte = 66 * b + 32 * h + (i % 32);
    out[byte]! |= (trits[k]! + 1) << (2 * Math.floor((i % 128) / 32));
  }
  for (let b = 0; b < nb; b++) {
    const allZero = trits.subarray(256 * b, 256 * (b + 1)).every((t) => t === 0);
    const h = allZero ? 0 : f32ToF16(scale);
    out[66 * b + 64] = h & 0xff;
    out[66 * b + 65] = h >> 8;
  }
  return out;
}

Deno.test("TQ2_0 constants and sizes", () => {
  assert.equal(GGML_TYPE_TQ2_0, 35);
  assert.equal(tq2_0ByteSize(256), 66);
  assert.equal(tq2_0ByteSize(2560 * 6912), 69120 * 66);
  assert.throws(
    () => tq2_0ByteSize(128, "blk.1.attn_v.weight"),
    (e: unknown) =>
      e instanceof NotTernaryError && /blk\.1\.attn_v\.weight/.test(e.message) &&
      /\b128\b/.test(e.message),
  );
});

Deno.test("tq2_0FromTrits: literal bytes worked out by hand", () => {
  // All +1, s = 1: every field code 2 → 0b10_10_10_10 = 0xaa; f16(1) = 0x3c00 → 00 3c.
  const plus = tq2_0FromTrits(new Int8Array(256).fill(1), 1);
  assert.equal(plus.length, 66);
  assert.deepEqual([...plus.subarray(0, 64)], new Array(64).fill(0xaa));
  assert.deepEqual([...plus.subarray(64)], [0x00, 0x3c]);

  const t = new Int8Array(256);
  t[0] = 1; // qs[0] bits 1-0 = 2; elements 32, 64, 96 code 1 → 0x02|0x04|0x10|0x40 = 0x56
  t[128 + 33] = -1; // half 1, m = 1, n = 1 → qs[33] bits 3-2 = 0 → 0x01|0x10|0x40 = 0x51
  t[255] = -1; // half 1, m = 31, n = 3 → qs[63] bits 7-6 = 0 → 0x01|0x04|0x10 = 0x15
  const bytes = tq2_0FromTrits(t, 0.5);
  assert.equal(bytes[0], 0x56);
  assert.equal(bytes[33], 0x51);
  assert.equal(bytes[63], 0x15);
  assert.equal(bytes[1], 0x55);
  assert.deepEqual([...bytes.subarray(64)], [0x00, 0x38]); // f16(0.5) = 0x3800
});

Deno.test("tq2_0FromTrits: an all-zero block stores d = 0 like ggml", () => {
  const t = new Int8Array(512);
  t[300] = 1; // block 1 only
  const bytes = tq2_0FromTrits(t, 0.25);
  assert.deepEqual([...bytes.subarray(0, 64)], new Array(64).fill(0x55));
  assert.deepEqual([...bytes.subarray(64, 66)], [0, 0]);
  assert.deepEqual([...bytes.subarray(130, 132)], [0x00, 0x34]); // f16(0.25) = 0x3400
});

Deno.test("tq2_0FromTrits: every element lands where FORMATS.md §6 says (seeded)", () => {
  const trits = randomTrits(256 * 9, 17);
  trits.fill(0, 512, 768); // one all-zero block
  const s = Math.fround(0.0371);
  assert.deepEqual(tq2_0FromTrits(trits, s), expectedFromTrits(trits, s));
});

Deno.test("tq2_0FromTrits equals ggml's quantizer on the values trit·s", () => {
  const { trits, scale } = ternarizeAbsmean(
    Float32Array.from({ length: 256 * 8 }, (_, i) => Math.sin(i * 0.37) * 0.02),
  );
  trits.fill(0, 256, 512);
  const values = Float32Array.from(trits, (t) => t * scale);
  const expected = ggmlQuantizeTQ2_0(values);
  assert.deepEqual(tq2_0FromTrits(trits, scale), expected);
  assert.deepEqual(quantizeTQ2_0(values), expected);
});

Deno.test("quantizeTQ2_0 equals ggml's quantize_row_tq2_0_ref on arbitrary floats", () => {
  const rnd = mulberry32(99);
  const x = Float32Array.from({ length: 256 * 6 }, () => (rnd() - 0.5) * (rnd() < 0.1 ? 8 : 1));
  x.fill(0, 1024, 1280); // an all-zero block: d = 0, id = 0, all codes 1
  assert.deepEqual(quantizeTQ2_0(x), ggmlQuantizeTQ2_0(x));
});

Deno.test("quantizeTQ2_0: exact ±0.5·d ties round away from zero (lroundf), not to even", () => {
  const x = new Float32Array(256);
  x[0] = 1; // d = 1 → code 2
  x[32] = 0.5; // lroundf(0.5) = 1 → code 2 (round-half-even would give 0 → code 1)
  x[64] = -0.5; // lroundf(-0.5) = -1 → code 0
  x[96] = 0.49; // → 0 → code 1
  const bytes = quantizeTQ2_0(x);
  assert.equal(bytes[0], 0x02 | (0x02 << 2) | (0x00 << 4) | (0x01 << 6)); // 0x4a
  assert.equal(bytes[0], 0x4a);
  assert.deepEqual([...bytes.subarray(64)], [0x00, 0x3c]);
});

Deno.test("quantizeTQ2_0: non-finite values and f16 overflow are refused", () => {
  const x = new Float32Array(256);
  x[3] = NaN;
  assert.throws(() => quantizeTQ2_0(x, "w"), /w: element 3 is NaN/);
  x[3] = 70000; // f16 max is 65504
  assert.throws(() => quantizeTQ2_0(x), NotTernaryError);
});

Deno.test("decodeTQ2_0: round trip on random trits (seeded)", () => {
  const trits = randomTrits(256 * 11, 23);
  const s = Math.fround(0.0123);
  const { trits: back, scales } = decodeTQ2_0(tq2_0FromTrits(trits, s), trits.length);
  assert.deepEqual(back, trits);
  const d = f16ToF32(f32ToF16(s)); // the stored scale is f16(s)
  assert.deepEqual(scales, new Float32Array(11).fill(d));
});

Deno.test("dequantizeTQ2_0 equals ggml's dequantize_row_tq2_0 on random blocks", () => {
  const rnd = mulberry32(5);
  const nb = 10;
  const bytes = Uint8Array.from({ length: nb * 66 }, () => Math.floor(rnd() * 256));
  for (let b = 0; b < nb; b++) bytes[b * 66 + 65]! &= 0xbb; // keep d finite (exponent < 31)
  // random bytes include code 3, which ggml dequantizes to +2·d
  assert.deepEqual(dequantizeTQ2_0(bytes, nb * 256), ggmlDequantizeTQ2_0(bytes, nb * 256));
  const trits = randomTrits(256 * 4, 6);
  const packed = tq2_0FromTrits(trits, 0.75);
  assert.deepEqual(dequantizeTQ2_0(packed, 1024), ggmlDequantizeTQ2_0(packed, 1024));
  assert.deepEqual(dequantizeTQ2_0(packed, 1024), Float32Array.from(trits, (t) => t * 0.75));
});

Deno.test("decodeTQ2_0: code 3 and short data are FormatErrors", () => {
  const bytes = tq2_0FromTrits(new Int8Array(512), 1);
  bytes[66 + 40] = 0x55 | 0x30; // block 1, half 1, m = 8, n = 2 → element 256 + 128 + 8 + 64
  assert.throws(
    () => decodeTQ2_0(bytes, 512, "w"),
    (e: unknown) =>
      e instanceof FormatError && /code 3/.test(e.message) && /element 456/.test(e.message),
  );
  assert.throws(() => decodeTQ2_0(new Uint8Array(65), 256), FormatError);
  assert.throws(() => dequantizeTQ2_0(new Uint8Array(65), 256), FormatError);
});

Deno.test("tq2_0FromTrits: bad trits and unusable scales are refused", () => {
  const t = new Int8Array(256);
  t[7] = 3;
  assert.throws(() => tq2_0FromTrits(t, 1, "w"), /w: element 7 has trit 3/);
  assert.throws(() => tq2_0FromTrits(new Int8Array(256), 0), NotTernaryError);
  assert.throws(() => tq2_0FromTrits(new Int8Array(256), 1e-9), /rounds to 0 in f16/);
  assert.throws(() => tq2_0FromTrits(new Int8Array(256), 1e6), /does not fit in f16/);
  assert.throws(() => tq2_0FromTrits(new Int8Array(300), 1), NotTernaryError);
});
