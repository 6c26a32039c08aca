import assert from "node:assert/strict";
import { i2sByteSize, i2sTail, packI2S, packI2SInto, unpackI2S } from "../../lib/codecs/i2s.ts";
import { codecOf, GgmlType } from "../../lib/codecs/table.ts";
import { FormatError, NotTernaryError } from "../../lib/errors.ts";
import { randomTrits } from "../_fuzz.ts";

/**
 * Expected packed bytes straight from FORMATS.md §5, element by element:
 * element j of block b → byte 32b + (j mod 32), shift 6 − 2·(j div 32), code trit + 1.
 */
function expectedI2S(trits: Int8Array, scale: number): Uint8Array {
  const n = trits.length;
  const out = new Uint8Array(n / 4 + 32);
  for (let k = 0; k < n; k++) {
    const b = Math.floor(k / 128);
    const j = k % 128;
    out[32 * b + (j % 32)]! |= (trits[k]! + 1) << (6 - 2 * Math.floor(j / 32));
  }
  new DataView(out.buffer).setFloat32(n / 4, scale, true);
  return out;
}

/**
 * Second oracle: a transliteration of bitnet.cpp's quantize_i2_s (x86,
 * ACT_PARALLEL) working from the dequantized float values:
 * scale = max|x| (double), q = |x| < 1e-6 ? 1 : x·scale > 0 ? 2 : 0, OR-packed.
 */
function bitnetQuantizeI2S(src: Float32Array): Uint8Array {
  const n = src.length;
  let max = 0;
  for (let i = 0; i < n; i++) max = Math.max(max, Math.abs(src[i]!));
  const q8 = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    if (Math.abs(src[i]!) < 1e-6) {
      q8[i] = 1;
      continue;
    }
    q8[i] = src[i]! * max > 0 ? 2 : 0;
  }
  const dst = new Uint8Array(n / 4 + 32);
  for (let i = 0; i < n / 128; i++) {
    for (let j = 0; j < 128; j++) {
      const groupIdx = Math.floor(j / 32);
      const groupPos = j % 32;
      dst[i * 32 + groupPos]! |= (q8[i * 128 + j]! << (6 - 2 * groupIdx)) & 0xff;
    }
  }
  new DataView(dst.buffer).setFloat32(n / 4, max, true);
  return dst;
}

Deno.test("i2sByteSize: n/4 + 32", () => {
  assert.equal(i2sByteSize(128), 64);
  assert.equal(i2sByteSize(2560 * 6912), 4423680 + 32);
  assert.throws(
    () => i2sByteSize(100, "blk.3.ffn_up.weight"),
    (e: unknown) =>
      e instanceof NotTernaryError && /blk\.3\.ffn_up\.weight/.test(e.message) &&
      /\b100\b/.test(e.message),
  );
});

Deno.test("packI2S: literal bytes worked out by hand", () => {
  // All +1: every 2-bit field holds code 2 → 0b10_10_10_10 = 0xaa.
  const plus = packI2S(new Int8Array(128).fill(1), 1);
  assert.deepEqual([...plus.subarray(0, 32)], new Array(32).fill(0xaa));
  // 1.0f = 0x3f800000, little-endian 00 00 80 3f; then 28 zero bytes.
  assert.deepEqual([...plus.subarray(32, 36)], [0x00, 0x00, 0x80, 0x3f]);
  assert.deepEqual([...plus.subarray(36)], new Array(28).fill(0));
  // All 0 → code 1 everywhere → 0b01_01_01_01 = 0x55; all −1 → 0x00.
  assert.deepEqual([...packI2S(new Int8Array(128), 1).subarray(0, 32)], new Array(32).fill(0x55));
  assert.deepEqual(
    [...packI2S(new Int8Array(128).fill(-1), 1).subarray(0, 32)],
    new Array(32).fill(0),
  );

  const t = new Int8Array(256);
  t[0] = 1; // byte 0 bits 7-6 = 2; elements 32, 64, 96 are 0 (code 1): 0x80|0x10|0x04|0x01 = 0x95
  t[33] = -1; // byte 1 bits 5-4 = 0; elements 1, 65, 97 code 1: 0x40|0x04|0x01 = 0x45
  t[127] = 1; // byte 31 bits 1-0 = 2; elements 31, 63, 95 code 1: 0x40|0x10|0x04|0x02 = 0x56
  t[128 + 64 + 5] = -1; // block 1: byte 32 + 5 = 37, bits 3-2 = 0: 0x40|0x10|0x01 = 0x51
  const bytes = packI2S(t, 0.5);
  assert.equal(bytes[0], 0x95);
  assert.equal(bytes[1], 0x45);
  assert.equal(bytes[31], 0x56);
  assert.equal(bytes[37], 0x51);
  assert.equal(bytes[2], 0x55);
  assert.equal(bytes[36], 0x55);
  // 0.5f = 0x3f000000 → 00 00 00 3f at byte n/4 = 64.
  assert.deepEqual([...bytes.subarray(64, 68)], [0, 0, 0, 0x3f]);
  assert.equal(bytes.length, 96);
});

Deno.test("packI2S: every element lands where FORMATS.md §5 says (seeded random)", () => {
  const trits = randomTrits(128 * 37, 11);
  const scale = Math.fround(0.0421);
  assert.deepEqual(packI2S(trits, scale), expectedI2S(trits, scale));
});

Deno.test("packI2S: one element at a time lands in its byte and bit pair", () => {
  for (const k of [0, 1, 31, 32, 63, 64, 95, 96, 127, 128, 200, 383]) {
    const trits = new Int8Array(384);
    trits[k] = -1; // code 0 in a sea of code 1 (0x55): exactly one bit pair cleared
    const bytes = packI2S(trits, 1);
    const j = k % 128;
    const byte = 32 * Math.floor(k / 128) + (j % 32);
    const shift = 6 - 2 * Math.floor(j / 32);
    for (let i = 0; i < 96; i++) {
      assert.equal(bytes[i], i === byte ? 0x55 & ~(3 << shift) : 0x55, `element ${k}, byte ${i}`);
    }
  }
});

Deno.test("packI2S equals a transliteration of bitnet.cpp quantize_i2_s", () => {
  const trits = randomTrits(128 * 20, 5);
  const s = Math.fround(1.3125);
  const values = Float32Array.from(trits, (t) => t * s);
  assert.deepEqual(packI2S(trits, s), bitnetQuantizeI2S(values));
});

Deno.test("unpackI2S: round trip on random trits (seeded)", () => {
  for (const seed of [1, 2, 3]) {
    const trits = randomTrits(128 * (seed * 13), seed);
    const { trits: back, scale } = unpackI2S(packI2S(trits, 0.75), trits.length);
    assert.deepEqual(back, trits);
    assert.equal(scale, 0.75);
  }
});

Deno.test("unpackI2S: reads a subarray with a byte offset", () => {
  const trits = randomTrits(256, 9);
  const packed = packI2S(trits, 2);
  const host = new Uint8Array(packed.length + 7);
  host.set(packed, 7);
  const { trits: back, scale } = unpackI2S(host.subarray(7), 256);
  assert.deepEqual(back, trits);
  assert.equal(scale, 2);
});

Deno.test("the I2_S codec row decodes to trit · scale", () => {
  const trits = randomTrits(128, 4);
  const s = Math.fround(0.3);
  const values = codecOf(GgmlType.I2_S).decode(packI2S(trits, s), 128, "w");
  assert.deepEqual(values, Float32Array.from(trits, (t) => t * s));
});

Deno.test("packI2SInto: slab by slab equals packing at once", () => {
  const trits = randomTrits(128 * 12, 21);
  const whole = packI2S(trits, 0.125);
  const dst = new Uint8Array(i2sByteSize(trits.length)).fill(0xee);
  for (const [a, b] of [[0, 384], [384, 1024], [1024, 1536]] as const) {
    packI2SInto(trits.subarray(a, b), dst, a);
  }
  dst.set(i2sTail(0.125), trits.length / 4);
  assert.deepEqual(dst, whole);
  // a slab-sized buffer with elementOffset 0
  const slab = new Uint8Array(96);
  packI2SInto(trits.subarray(384, 768), slab, 0);
  assert.deepEqual(slab, whole.subarray(96, 192));
});

Deno.test("packI2SInto: misaligned offset, overflow and bad trits are refused", () => {
  const dst = new Uint8Array(i2sByteSize(256));
  assert.throws(() => packI2SInto(new Int8Array(128), dst, 64), NotTernaryError);
  assert.throws(() => packI2SInto(new Int8Array(100), dst, 0), NotTernaryError);
  assert.throws(() => packI2SInto(new Int8Array(128), new Uint8Array(31), 0), RangeError);
  const bad = new Int8Array(256);
  bad[130] = 2;
  assert.throws(
    () => packI2S(bad, 1, "blk.0.attn_k.weight"),
    (e: unknown) =>
      e instanceof NotTernaryError && /blk\.0\.attn_k\.weight: element 130 has trit 2/.test(
        e.message,
      ),
  );
  bad[130] = 0;
  bad[5] = -2;
  assert.throws(() => packI2SInto(bad.subarray(0, 128), dst, 128), /element 133 has trit -2/);
});

Deno.test("unpackI2S: code 3 and short data are FormatErrors", () => {
  const bytes = packI2S(new Int8Array(256), 1);
  bytes[33] = 0x57; // byte 33 = block 1, position 1; low bits 3 → element 128 + 96 + 1 = 225
  assert.throws(
    () => unpackI2S(bytes, 256, "w"),
    (e: unknown) =>
      e instanceof FormatError && /code 3/.test(e.message) && /element 225/.test(e.message),
  );
  assert.throws(() => unpackI2S(new Uint8Array(63), 128), FormatError);
  assert.throws(() => unpackI2S(new Uint8Array(64), 100), NotTernaryError);
});

Deno.test("unpackI2S: uninitialized padding after the scale is ignored", () => {
  const trits = randomTrits(128, 8);
  const bytes = packI2S(trits, 1);
  bytes.fill(0xcd, 36); // bitnet.cpp leaves these 28 bytes uninitialized
  assert.deepEqual(unpackI2S(bytes, 128).trits, trits);
});
