/**
 * The target format table against FORMATS.md §1/§5/§6 facts, and the slab
 * encoders: packing a tensor slab by slab gives the bytes of packing it whole
 * (the codecs' whole-tensor functions, whose bytes tests/codecs checks by hand).
 */

import assert from "node:assert/strict";
import { UsageError } from "../../lib/errors.ts";
import { packI2S } from "../../lib/codecs/i2s.ts";
import { GgmlType, packTrits } from "../../lib/codecs/table.ts";
import { QUANT_FORMATS, quantFormat, type QuantTypeName } from "../../lib/quantize/formats.ts";
import { FuzzRng } from "../_fuzz.ts";

Deno.test("formats: ggml type ids, file types and blocks are FORMATS.md's", () => {
  const facts: Record<QuantTypeName, [number, number, number]> = {
    i2_s: [36, 40, 128],
    tq2_0: [35, 37, 256],
    tq1_0: [34, 36, 256],
  };
  for (const [name, [ggml, fileType, block]] of Object.entries(facts)) {
    const f = quantFormat(name);
    assert.equal(f.codec.id, ggml, name);
    assert.equal(f.fileType, fileType, name);
    assert.equal(f.codec.ternary.rowBlock, block, name);
  }
  assert.equal(quantFormat("TQ2_0").name, "tq2_0");
  assert.throws(() => quantFormat("q4_0"), UsageError);
});

Deno.test("formats: stored scales (f32 for I2_S, f16 for the TQ types)", () => {
  const s = 0.1; // not exact in f16: nearest half is 0.0999755859375
  assert.equal(QUANT_FORMATS.i2_s.codec.ternary.storedScale(s), Math.fround(0.1));
  assert.equal(QUANT_FORMATS.tq2_0.codec.ternary.storedScale(s), 0.0999755859375);
  assert.equal(QUANT_FORMATS.tq1_0.codec.ternary.storedScale(s), 0.0999755859375);
});

function randomTrits(n: number, seed: number): Int8Array {
  const rng = new FuzzRng(seed);
  return Int8Array.from({ length: n }, () => (rng.u32() % 3) - 1);
}

function encodeInSlabs(name: QuantTypeName, trits: Int8Array, scale: number, slab: number) {
  const enc = QUANT_FORMATS[name].codec.ternary.encoder(trits.length, scale, "w");
  const parts: Uint8Array[] = [];
  for (let i = 0; i < trits.length; i += slab) {
    parts.push(enc.encode(trits.subarray(i, i + slab)).slice());
  }
  parts.push(enc.finish());
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

Deno.test("formats: slab-by-slab encoding equals whole-tensor packing", () => {
  const n = 256 * 12;
  const trits = randomTrits(n, 7);
  const scale = 0.0625;
  assert.deepEqual(encodeInSlabs("i2_s", trits, scale, 512), packI2S(trits, scale));
  assert.deepEqual(encodeInSlabs("i2_s", trits, scale, 128 * 3), packI2S(trits, scale));
  assert.deepEqual(
    encodeInSlabs("tq2_0", trits, scale, 1024),
    packTrits(GgmlType.TQ2_0, trits, scale),
  );
  assert.deepEqual(
    encodeInSlabs("tq1_0", trits, scale, 768),
    packTrits(GgmlType.TQ1_0, trits, scale),
  );
});

Deno.test("formats: an all-zero tensor (scale 0) packs with d = 0, as ggml's quantizer writes it", () => {
  const zeros = new Int8Array(512);
  const tq2 = encodeInSlabs("tq2_0", zeros, 0, 256);
  assert.equal(tq2.length, 2 * 66);
  // Every code is 1 (0b01 in each 2-bit field): 0x55; d = 0.
  assert.ok(tq2.subarray(0, 64).every((b) => b === 0x55));
  assert.deepEqual([...tq2.subarray(64, 66)], [0, 0]);
  const tq1 = encodeInSlabs("tq1_0", zeros, 0, 512);
  assert.equal(tq1.length, 2 * 54);
  assert.deepEqual([...tq1.subarray(52, 54)], [0, 0]);
  const i2s = encodeInSlabs("i2_s", zeros, 0, 512);
  assert.equal(i2s.length, 512 / 4 + 32);
  assert.ok(i2s.subarray(0, 128).every((b) => b === 0x55));
  assert.ok(i2s.subarray(128).every((b) => b === 0));
});
