/**
 * The quantizer's WebAssembly kernels against the JavaScript code they
 * replace on the hot path: the I2_S packer (lib/codecs/i2s_pack.ts) against
 * `classifyBits16` + `packI2SInto` (byte for byte, counts, and the verdict on
 * every one of the 65536 bit patterns), and the 16-bit statistics
 * (lib/codecs/stats16.ts) against `StatsAccumulator.addBits16` (every figure
 * to the last bit, NaN and ±inf included), four chunks at a time as one by one. Also: the generated modules are
 * the assembled .wat sources.
 */

import assert from "node:assert/strict";
import { I2sPackKernel, PACK_CHUNK_ELEMENTS } from "../../lib/codecs/i2s_pack.ts";
import { I2S_PACK_WASM } from "../../lib/codecs/i2s_pack_wasm.ts";
import { packI2SInto } from "../../lib/codecs/i2s.ts";
import { Stats16, STATS16_BATCH } from "../../lib/codecs/stats16.ts";
import { STATS16_WASM } from "../../lib/codecs/stats16_wasm.ts";
import { classifyBits16, INVALID, ternaryCodeTable16 } from "../../lib/codecs/ternary_bits.ts";
import { bf16ToF32, f16ToF32 } from "../../lib/codecs/float.ts";
import { StatsAccumulator } from "../../lib/stats/summary.ts";
import { assembleCodecWasm, CODEC_WASM } from "../../tools/build_codec_wasm.ts";
import { FuzzRng } from "../_fuzz.ts";

const decode64 = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));

Deno.test("the generated kernel modules are the assembled .wat sources", async () => {
  const generated: Record<string, string> = {
    I2S_PACK_WASM,
    STATS16_WASM,
  };
  for (const k of CODEC_WASM) {
    const bytes = await assembleCodecWasm(k.wat, await Deno.readTextFile(k.wat));
    assert.deepEqual(
      decode64(generated[k.constant]!),
      bytes,
      `${k.out}: run tools/build_codec_wasm.ts`,
    );
  }
});

/** The JavaScript path: trits through the table, then the I2_S packer; null when invalid. */
function referencePack(bits: Uint16Array, scaleBits: number, counts: Float64Array) {
  const c = new Float64Array(4);
  const trits = new Int8Array(bits.length);
  classifyBits16(bits, ternaryCodeTable16(scaleBits), c, trits);
  if (c[3]! > 0) return null;
  for (let i = 0; i < 3; i++) counts[i]! += c[i]!;
  const out = new Uint8Array(bits.length / 4);
  packI2SInto(trits, out, 0);
  return out;
}

function inputBits(k: I2sPackKernel, n: number): Uint16Array {
  return new Uint16Array(k.input.buffer, k.input.byteOffset, n);
}

Deno.test("I2_S kernel: random ternary slabs pack byte for byte as the JavaScript path", () => {
  const rng = new FuzzRng(11);
  const k = new I2sPackKernel();
  // F16 0.5, an F16 subnormal, BF16 0.0123, F16 65504 (max finite), BF16 near its max.
  for (const scaleBits of [0x3800, 0x0001, 0x3c49, 0x7bff, 0x7f7f]) {
    for (const n of [128, 256, 128 * 37, PACK_CHUNK_ELEMENTS]) {
      const bits = inputBits(k, n);
      const patterns = [scaleBits, scaleBits | 0x8000, 0, 0x8000];
      // Mostly random; some slabs all one value.
      const constant = rng.int(5);
      for (let i = 0; i < n; i++) bits[i] = patterns[constant < 4 ? constant : rng.int(4)]!;
      const expectedCounts = new Float64Array(3), counts = new Float64Array(3);
      const expected = referencePack(bits.slice(), scaleBits, expectedCounts);
      const packed = k.pack(n, scaleBits, counts);
      assert.ok(expected && packed, `scale 0x${scaleBits.toString(16)}, n ${n}: valid`);
      assert.deepEqual(packed, expected, `scale 0x${scaleBits.toString(16)}, n ${n}: bytes`);
      assert.deepEqual(counts, expectedCounts, `scale 0x${scaleBits.toString(16)}, n ${n}: counts`);
    }
  }
});

Deno.test("I2_S kernel: every 16-bit pattern is accepted exactly when the table accepts it", () => {
  const k = new I2sPackKernel();
  const bits = inputBits(k, 256);
  for (const scaleBits of [0x3800, 0x7bff]) {
    const table = ternaryCodeTable16(scaleBits);
    const counts = new Float64Array(3);
    for (let p = 0; p < 65536; p++) {
      bits.fill(scaleBits);
      // Each lane and group position in turn: element p mod 256.
      bits[p % 256] = p;
      const valid = table[p] !== INVALID;
      assert.equal(k.pack(256, scaleBits, counts) !== null, valid, `pattern 0x${p.toString(16)}`);
    }
  }
});

Deno.test("I2_S kernel: an invalid value leaves the counts alone; bad arguments are refused", () => {
  const k = new I2sPackKernel();
  const bits = inputBits(k, 128).fill(0x3800);
  bits[127] = 0x3801;
  const counts = new Float64Array(3);
  assert.equal(k.pack(128, 0x3800, counts), null);
  assert.deepEqual(counts, new Float64Array(3));
  assert.throws(() => k.pack(100, 0x3800, counts), RangeError);
  assert.throws(() => k.pack(PACK_CHUNK_ELEMENTS + 128, 0x3800, counts), RangeError);
  assert.throws(() => k.pack(128, 0, counts), RangeError);
});

/** The f32 value of each of the 65536 patterns, decoded one by one (the reference's table). */
function bits16Table(type: "F16" | "BF16"): Float32Array {
  const decode = type === "F16" ? f16ToF32 : bf16ToF32;
  return Float32Array.from({ length: 65536 }, (_, bits) => decode(bits));
}

Deno.test("16-bit statistics equal StatsAccumulator.addBits16 to the last bit, chunk by chunk", () => {
  const rng = new FuzzRng(7);
  for (const type of ["F16", "BF16"] as const) {
    const table = bits16Table(type);
    const wasm = new Stats16(type, 1 << 16);
    const reference = new StatsAccumulator();
    for (let chunk = 0; chunk < 6; chunk++) {
      const n = chunk === 5 ? 1 : 1 + rng.int(1 << 15);
      const bits = new Uint16Array(wasm.input.buffer, wasm.input.byteOffset, n);
      for (let i = 0; i < n; i++) {
        // Mostly ordinary values; now and then ±0, ±inf and NaN patterns.
        const r = rng.int(100);
        bits[i] = r === 0 ? 0x7c00 : r === 1 ? 0xffff : r === 2 ? 0x8000 : rng.int(65536);
      }
      reference.addBits16(bits.slice(), table);
      wasm.add(n);
      const want = reference.result(), got = wasm.result();
      for (const key of ["count", "rms", "min", "max", "nonFinite"] as const) {
        assert.ok(
          Object.is(got[key], want[key]),
          `${type} chunk ${chunk} ${key}: ${got[key]} vs ${want[key]}`,
        );
      }
    }
  }
});

Deno.test("16-bit statistics four chunks at a time equal chunk by chunk to the last bit (±0 ties, NaN, ±inf)", () => {
  const rng = new FuzzRng(11);
  const chunkBytes = 1 << 12, n = chunkBytes / 2;
  for (const type of ["F16", "BF16"] as const) {
    const nan = type === "F16" ? 0x7e00 : 0x7fc0, inf = type === "F16" ? 0x7c00 : 0x7f80;
    // Batches: ordinary values; nonnegative values whose minimum is 0, with −0 and +0 in
    // shuffled order (which zero comes first decides the sign of the min); one NaN; one −inf;
    // zeros only; positive values only; negative values only.
    const batches: ((i: number) => number)[] = [
      () => rng.int(65536) & ~inf | (rng.int(2) ? 0 : 0x1000),
      () => (rng.int(8) === 0 ? (rng.int(2) ? 0x8000 : 0) : 1 + rng.int(0x3000)),
      (i) => (i === 3 * n + 17 ? nan : rng.int(0x3000)),
      (i) => (i === n + 5 ? inf | 0x8000 : rng.int(0x3000) | (rng.int(2) << 15)),
      () => (rng.int(2) ? 0x8000 : 0),
      () => 1 + rng.int(0x3000),
      () => 0x8000 | (1 + rng.int(0x3000)),
    ];
    for (const [b, value] of batches.entries()) {
      // Fresh figures per batch, so that the ±0 batches decide the min's sign themselves.
      const four = new Stats16(type, chunkBytes, STATS16_BATCH);
      const one = new Stats16(type, chunkBytes);
      const bits = new Uint16Array(four.input.buffer, four.input.byteOffset, STATS16_BATCH * n);
      for (let i = 0; i < bits.length; i++) bits[i] = value(i);
      four.sumFour(n, chunkBytes);
      for (let c = 0; c < STATS16_BATCH; c++) {
        four.mergeChunk(c);
        one.input.set(four.input.subarray(c * chunkBytes, (c + 1) * chunkBytes));
        one.add(n);
        const want = one.result(), got = four.result();
        for (const key of ["count", "rms", "min", "max", "nonFinite"] as const) {
          assert.ok(
            Object.is(got[key], want[key]),
            `${type} batch ${b} chunk ${c} ${key}: ${got[key]} vs ${want[key]}`,
          );
        }
      }
      if (b === 1) assert.ok(four.result().min === 0, "batch 1's minimum is a zero (either sign)");
    }
  }
});
