import assert from "node:assert/strict";
import {
  blocksFromTrits,
  decodeBlocks,
  dequantizeBlocks,
  quantizeBlocks,
  TQ1_0_LAYOUT,
} from "../../lib/codecs/ternary_blocks.ts";
import { codecOf, GgmlType } from "../../lib/codecs/table.ts";
import { ternarizeAbsmean } from "../../lib/codecs/ternary.ts";
import { f16ToF32, f32ToF16 } from "../../lib/codecs/float.ts";
import { FormatError, NotTernaryError } from "../../lib/errors.ts";
import { mulberry32 } from "../../lib/inference/sampler.ts";
import { randomTrits } from "../_fuzz.ts";

// The per-type names these tests were written against, over the shared block codec.
const L = TQ1_0_LAYOUT;
const tq1_0FromTrits = (t: Int8Array, s: number, name?: string) => blocksFromTrits(L, t, s, name);
const quantizeTQ1_0 = (v: Float32Array, name?: string) => quantizeBlocks(L, v, name);
const decodeTQ1_0 = (b: Uint8Array, n: number, name?: string) => decodeBlocks(L, b, n, name);
const dequantizeTQ1_0 = (b: Uint8Array, n: number) => dequantizeBlocks(L, b, n);
const tq1_0ByteSize = (n: number, name?: string) => codecOf(GgmlType.TQ1_0).byteSize(n, name);
const GGML_TYPE_TQ1_0 = GgmlType.TQ1_0;

/** C lroundf: half away from zero. */
function cLroundf(v: number): number {
  return Math.sign(v) * Math.floor(Math.abs(v) + 0.5);
}

/**
 * Transliteration of ggml-quants.c quantize_row_tq1_0_ref (pointer walk kept;
 * sizeof(qs) = 48, sizeof(qh) = 4; uint8_t arithmetic made explicit).
 */
function ggmlQuantizeTQ1_0(src: Float32Array): Uint8Array {
  const nb = src.length / 256;
  const y = new Uint8Array(nb * 54);
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
    y[i * 54 + 52] = h & 0xff;
    y[i * 54 + 53] = h >> 8;
    // 5 elements per byte, along 32 bytes
    for (let j = 0; j < 48 - (48 % 32); j += 32) {
      for (let m = 0; m < 32; m++) {
        let q = 0;
        for (let n = 0; n < 5; n++) {
          const xi = cLroundf(Math.fround(src[x + m + n * 32]! * id)) + 1;
          q = (q * 3 + xi) & 0xff;
        }
        q = Math.floor((q * 256 + (243 - 1)) / 243) & 0xff; // ceiling division
        y[i * 54 + j + m] = q;
      }
      x += 5 * 32;
    }
    // along 16 bytes
    for (let j = 48 - (48 % 32); j < 48; j += 16) {
      for (let m = 0; m < 16; m++) {
        let q = 0;
        for (let n = 0; n < 5; n++) {
          const xi = cLroundf(Math.fround(src[x + m + n * 16]! * id)) + 1;
          q = (q * 3 + xi) & 0xff;
        }
        q = Math.floor((q * 256 + (243 - 1)) / 243) & 0xff;
        y[i * 54 + j + m] = q;
      }
      x += 5 * 16;
    }
    // 4 elements per byte
    for (let j = 0; j < 4; j++) {
      let q = 0;
      for (let m = 0; m < 4; m++) {
        const xi = cLroundf(Math.fround(src[x + j + m * 4]! * id)) + 1;
        q = (q * 3 + xi) & 0xff;
      }
      q = (q * 3) & 0xff; // shift the first value to the most significant trit
      q = Math.floor((q * 256 + (243 - 1)) / 243) & 0xff;
      y[i * 54 + 48 + j] = q;
    }
    x += 4 * 4;
  }
  return y;
}

/** Transliteration of ggml-quants.c dequantize_row_tq1_0. */
function ggmlDequantizeTQ1_0(x: Uint8Array, k: number): Float32Array {
  const pow3 = [1, 3, 9, 27, 81, 243];
  const out = new Float32Array(k);
  let y = 0;
  for (let i = 0; i < k / 256; i++) {
    const o = i * 54;
    const d = f16ToF32(x[o + 52]! | (x[o + 53]! << 8));
    for (let j = 0; j < 48 - (48 % 32); j += 32) {
      for (let n = 0; n < 5; n++) {
        for (let m = 0; m < 32; m++) {
          const q = (x[o + j + m]! * pow3[n]!) & 0xff;
          const xi = (q * 3) >> 8;
          out[y++] = Math.fround((xi - 1) * d);
        }
      }
    }
    for (let j = 48 - (48 % 32); j < 48; j += 16) {
      for (let n = 0; n < 5; n++) {
        for (let m = 0; m < 16; m++) {
          const q = (x[o + j + m]! * pow3[n]!) & 0xff;
          const xi = (q * 3) >> 8;
          out[y++] = Math.fround((xi - 1) * d);
        }
      }
    }
    for (let n = 0; n < 4; n++) {
      for (let j = 0; j < 4; j++) {
        const q = (x[o + 48 + j]! * pow3[n]!) & 0xff;
        const xi = (q * 3) >> 8;
        out[y++] = Math.fround((xi - 1) * d);
      }
    }
  }
  return out;
}

/**
 * Expected bytes from the layout rules written out per element: element i of a
 * block goes to
 *   i < 160:  byte i mod 32,              trit position n = i div 32
 *   i < 240:  byte 32 + (i − 160) mod 16, n = (i − 160) div 16
 *   else:     byte 48 + (i − 240) mod 4,  n = (i − 240) div 4
 * with weight 3^(4−n) on its code; each byte is then stored as ceil(q·256/243).
 */
function expectedFromTrits(trits: Int8Array, scale: number): Uint8Array {
  const nb = trits.length / 256;
  const out = new Uint8Array(nb * 54);
  for (let b = 0; b < nb; b++) {
    const q = new Array<number>(52).fill(0);
    for (let i = 0; i < 256; i++) {
      let byte: number, n: number;
      if (i < 160) [byte, n] = [i % 32, Math.floor(i / 32)];
      else if (i < 240) [byte, n] = [32 + ((i - 160) % 16), Math.floor((i - 160) / 16)];
      else [byte, n] = [48 + ((i - 240) % 4), Math.floor((i - 240) / 4)];
      q[byte]! += (trits[256 * b + i]! + 1) * 3 ** (4 - n);
    }
    for (let k = 0; k < 52; k++) out[54 * b + k] = Math.ceil((q[k]! * 256) / 243);
    const allZero = trits.subarray(256 * b, 256 * (b + 1)).every((t) => t === 0);
    const h = allZero ? 0 : f32ToF16(scale);
    out[54 * b + 52] = h & 0xff;
    out[54 * b + 53] = h >> 8;
  }
  return out;
}

Deno.test("TQ1_0 constants and sizes", () => {
  assert.equal(GGML_TYPE_TQ1_0, 34);
  assert.equal(tq1_0ByteSize(256), 54);
  assert.equal(tq1_0ByteSize(2560 * 6912), 69120 * 54);
  assert.throws(
    () => tq1_0ByteSize(1000, "blk.2.ffn_down.weight"),
    (e: unknown) =>
      e instanceof NotTernaryError && /blk\.2\.ffn_down\.weight/.test(e.message) &&
      /\b1000\b/.test(e.message),
  );
});

Deno.test("tq1_0FromTrits: literal bytes worked out by hand", () => {
  // All +1 (code 2): qs q = 2·(81+27+9+3+1) = 242 → ceil(242·256/243) = ceil(254.95) = 255;
  // qh q = 2·(81+27+9+3) = 240 → ceil(252.84) = 253; f16(1) = 0x3c00.
  const plus = tq1_0FromTrits(new Int8Array(256).fill(1), 1);
  assert.equal(plus.length, 54);
  assert.deepEqual([...plus.subarray(0, 48)], new Array(48).fill(255));
  assert.deepEqual([...plus.subarray(48, 52)], [253, 253, 253, 253]);
  assert.deepEqual([...plus.subarray(52)], [0x00, 0x3c]);
  // All −1 (code 0): every q = 0 → byte 0.
  assert.deepEqual([...tq1_0FromTrits(new Int8Array(256).fill(-1), 1).subarray(0, 52)], [
    ...new Array(52).fill(0),
  ]);
  // All 0 (code 1): qs q = 121 → ceil(127.47) = 128; qh q = 120 → ceil(126.42) = 127; d = 0.
  const zero = tq1_0FromTrits(new Int8Array(256), 1);
  assert.deepEqual([...zero.subarray(0, 48)], new Array(48).fill(128));
  assert.deepEqual([...zero.subarray(48)], [127, 127, 127, 127, 0, 0]);

  const t = new Int8Array(256);
  t[0] = 1; // qs[0], n = 0: q = 2·81 + 27 + 9 + 3 + 1 = 202 → ceil(212.81) = 213
  t[33] = -1; // qs[1], n = 1: q = 81 + 0·27 + 9 + 3 + 1 = 94 → ceil(99.03) = 100
  t[160] = 1; // qs[32], n = 0: q = 202 → 213
  t[175] = -1; // qs[47], n = 0: q = 27 + 9 + 3 + 1 = 40 → ceil(42.14) = 43
  t[254] = 1; // qh[2], n = 3: q = 81 + 27 + 9 + 2·3 = 123 → ceil(129.58) = 130
  const bytes = tq1_0FromTrits(t, 0.5);
  assert.equal(bytes[0], 213);
  assert.equal(bytes[1], 100);
  assert.equal(bytes[2], 128);
  assert.equal(bytes[32], 213);
  assert.equal(bytes[47], 43);
  assert.equal(bytes[50], 130);
  assert.equal(bytes[51], 127);
  assert.deepEqual([...bytes.subarray(52)], [0x00, 0x38]); // f16(0.5) = 0x3800
});

Deno.test("tq1_0FromTrits: every element lands where the layout rules say (seeded)", () => {
  const trits = randomTrits(256 * 9, 29);
  trits.fill(0, 768, 1024); // one all-zero block
  const s = Math.fround(0.0371);
  assert.deepEqual(tq1_0FromTrits(trits, s), expectedFromTrits(trits, s));
});

Deno.test("TQ1_0: every 5-trit value 0..242 encodes to ceil(q·256/243) and decodes back", () => {
  // Block k puts the base-3 digits of k (most significant first) on elements
  // 0, 32, 64, 96, 128 — the five trits of qs[0].
  const trits = new Int8Array(243 * 256);
  for (let k = 0; k < 243; k++) {
    for (let n = 0; n < 5; n++) {
      trits[256 * k + 32 * n] = (Math.floor(k / 3 ** (4 - n)) % 3) - 1;
    }
  }
  const bytes = tq1_0FromTrits(trits, 1);
  for (let k = 0; k < 243; k++) assert.equal(bytes[54 * k], Math.ceil((k * 256) / 243), `q ${k}`);
  assert.deepEqual(decodeTQ1_0(bytes, trits.length).trits, trits);
  assert.deepEqual(
    ggmlDequantizeTQ1_0(bytes, trits.length),
    dequantizeTQ1_0(bytes, trits.length),
  );
});

Deno.test("tq1_0FromTrits equals ggml's quantizer on the values trit·s", () => {
  const { trits, scale } = ternarizeAbsmean(
    Float32Array.from({ length: 256 * 8 }, (_, i) => Math.cos(i * 0.71) * 0.03),
  );
  trits.fill(0, 512, 768);
  const values = Float32Array.from(trits, (t) => t * scale);
  const expected = ggmlQuantizeTQ1_0(values);
  assert.deepEqual(tq1_0FromTrits(trits, scale), expected);
  assert.deepEqual(quantizeTQ1_0(values), expected);
});

Deno.test("quantizeTQ1_0 equals ggml's quantize_row_tq1_0_ref on arbitrary floats", () => {
  const rnd = mulberry32(77);
  const x = Float32Array.from({ length: 256 * 6 }, () => (rnd() - 0.5) * (rnd() < 0.1 ? 8 : 1));
  x.fill(0, 256, 512);
  assert.deepEqual(quantizeTQ1_0(x), ggmlQuantizeTQ1_0(x));
});

Deno.test("quantizeTQ1_0: exact ±0.5·d ties round away from zero (lroundf)", () => {
  const x = new Float32Array(256);
  x[0] = 1; // d = 1, code 2
  x[32] = 0.5; // lroundf → 1, code 2
  x[64] = -0.5; // lroundf → -1, code 0
  // qs[0] q = 2·81 + 2·27 + 0·9 + 1·3 + 1 = 220 → ceil(220·256/243) = ceil(231.77) = 232
  const bytes = quantizeTQ1_0(x);
  assert.equal(bytes[0], 232);
  assert.deepEqual([...bytes.subarray(52)], [0x00, 0x3c]);
});

Deno.test("decodeTQ1_0: round trip on random trits (seeded)", () => {
  const trits = randomTrits(256 * 13, 31);
  const s = Math.fround(0.0123);
  const { trits: back, scales } = decodeTQ1_0(tq1_0FromTrits(trits, s), trits.length);
  assert.deepEqual(back, trits);
  assert.deepEqual(scales, new Float32Array(13).fill(f16ToF32(f32ToF16(s))));
});

Deno.test("dequantizeTQ1_0 equals ggml's dequantize_row_tq1_0 on random blocks", () => {
  const rnd = mulberry32(8);
  const nb = 10;
  const bytes = Uint8Array.from({ length: nb * 54 }, () => Math.floor(rnd() * 256));
  for (let b = 0; b < nb; b++) bytes[b * 54 + 53]! &= 0xbb; // keep d finite
  assert.deepEqual(dequantizeTQ1_0(bytes, nb * 256), ggmlDequantizeTQ1_0(bytes, nb * 256));
  const trits = randomTrits(256 * 4, 6);
  const packed = tq1_0FromTrits(trits, 0.75);
  assert.deepEqual(dequantizeTQ1_0(packed, 1024), ggmlDequantizeTQ1_0(packed, 1024));
  assert.deepEqual(dequantizeTQ1_0(packed, 1024), Float32Array.from(trits, (t) => t * 0.75));
});

Deno.test("TQ1_0: short data, bad trits, bad scales and bad counts are refused", () => {
  assert.throws(() => decodeTQ1_0(new Uint8Array(53), 256), FormatError);
  const t = new Int8Array(512);
  t[300] = -3;
  assert.throws(() => tq1_0FromTrits(t, 1, "w"), /w: element 300 has trit -3/);
  assert.throws(() => tq1_0FromTrits(new Int8Array(256), -1), NotTernaryError);
  assert.throws(() => tq1_0FromTrits(new Int8Array(256), 1e-9), /rounds to 0 in f16/);
  assert.throws(() => quantizeTQ1_0(new Float32Array(100)), NotTernaryError);
  const x = new Float32Array(256);
  x[9] = Infinity;
  assert.throws(() => quantizeTQ1_0(x, "w"), /w: element 9 is Infinity/);
});
