import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from "../../lib/codecs/float.ts";
import {
  bf16ToF16Array,
  bf16ToF32Array,
  f16ToF32Array,
  f32ToBf16Array,
  f32ToF16Array,
} from "../../lib/codecs/float_bulk.ts";

const sha256 = (a: ArrayBufferView) =>
  createHash("sha256").update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest("hex");

const ALL_U16 = Uint16Array.from({ length: 65536 }, (_, i) => i);

/**
 * The f32 bit patterns the numpy reference digests below were computed over
 * (same formula in Python): a golden-ratio sweep of the u32 space plus rounding
 * ties and near-ties at every exponent around the f16 range, and f16-subnormal
 * ties at each shift.
 */
function patterns(): Uint32Array {
  const p: number[] = [];
  for (let i = 0; i < 1 << 18; i++) p.push(Math.imul(i, 2654435761) >>> 0);
  for (const sign of [0, 1]) {
    const exps = [...Array.from({ length: 48 }, (_, k) => 98 + k), 0, 1, 254, 255];
    for (const exp of exps) {
      for (const hi of [0, 1, 2, 0x155, 0x3fe, 0x3ff]) {
        for (const lo of [0, 1, 0xfff, 0x1000, 0x1001, 0x1fff]) {
          p.push(((sign << 31) | (exp << 23) | (hi << 13) | lo) >>> 0);
        }
      }
      if (exp >= 101 && exp <= 112) {
        const k = 126 - exp - 1;
        const ms = [
          1 << k,
          (1 << k) - 1,
          (1 << k) + 1,
          (3 << k) & 0x7fffff,
          ((0x7fffff >> (k + 1)) << (k + 1)) | (1 << k),
        ];
        for (const m of ms) p.push(((sign << 31) | (exp << 23) | m) >>> 0);
      }
    }
  }
  return Uint32Array.from(p);
}

const isF16Nan = (h: number) => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;

Deno.test("bf16ToF16Array: whole table equals numpy's float32→float16 (round to nearest even)", () => {
  const dst = new Uint16Array(65536);
  const { overflow } = bf16ToF16Array(ALL_U16, dst, "refuse");
  // numpy 2.4 astype(float16) of every bf16 (as f32); NaN written as sign|0x7e00.
  assert.equal(sha256(dst), "dae5a613a981e5c814eefb07939198b101c763bbbea2c9e7953752869ba0c6b2");
  assert.equal(overflow, 28672); // 2 signs × (0x7f80 − 0x4780) patterns
  for (let b = 0; b < 65536; b++) {
    const expected = f32ToF16(bf16ToF32(b));
    if (Number.isNaN(bf16ToF32(b))) assert.ok(isF16Nan(dst[b]!), `0x${b.toString(16)}`);
    else assert.equal(dst[b], expected, `0x${b.toString(16)}`);
  }
});

Deno.test("bf16ToF16Array: hand-picked bit patterns", () => {
  const cases: [number, number, number, string][] = [
    // [bf16, f16 refuse, f16 clamp, why]
    [0x3f80, 0x3c00, 0x3c00, "1"],
    [0x0000, 0x0000, 0x0000, "+0"],
    [0x8000, 0x8000, 0x8000, "-0 keeps its sign"],
    [0x477f, 0x7bf8, 0x7bf8, "65280 fits"],
    [0x4780, 0x7c00, 0x7bff, "65536 overflows"],
    [0xc780, 0xfc00, 0xfbff, "-65536 overflows"],
    [0x7f7f, 0x7c00, 0x7bff, "bf16 max overflows"],
    [0x7f80, 0x7c00, 0x7c00, "+inf stays inf, not counted"],
    [0xff80, 0xfc00, 0xfc00, "-inf"],
    [0x7fc0, 0x7e00, 0x7e00, "quiet NaN"],
    [0x7f81, 0x7e00, 0x7e00, "signalling NaN becomes quiet NaN"],
    [0xffc0, 0xfe00, 0xfe00, "negative NaN"],
    [0x3880, 0x0400, 0x0400, "2^-14, smallest f16 normal"],
    [0x3380, 0x0001, 0x0001, "2^-24, smallest f16 subnormal"],
    [0x3300, 0x0000, 0x0000, "2^-25: tie between 0 and 2^-24 rounds to even 0"],
    [0x3340, 0x0001, 0x0001, "1.5 × 2^-25 rounds up"],
    [0x33c0, 0x0002, 0x0002, "1.5 × 2^-24: tie between 1 and 2 rounds to even 2"],
    [0x3420, 0x0002, 0x0002, "2.5 × 2^-24: tie between 2 and 3 rounds to even 2"],
    [0x0001, 0x0000, 0x0000, "bf16 subnormal underflows to 0"],
    [0x8001, 0x8000, 0x8000, "negative underflow keeps the sign"],
    [0x387f, 0x03fc, 0x03fc, "just under 2^-14 is the f16 subnormal 1020 × 2^-24"],
  ];
  const src = Uint16Array.from(cases.map((c) => c[0]));
  for (const mode of ["refuse", "clamp"] as const) {
    const dst = new Uint16Array(src.length);
    const { overflow } = bf16ToF16Array(src, dst, mode);
    assert.equal(overflow, 3, mode);
    cases.forEach(([b, refuse, clamp, why], i) => {
      const want = mode === "refuse" ? refuse : clamp;
      assert.equal(
        dst[i],
        want,
        `${mode} 0x${b.toString(16)} (${why}): got 0x${dst[i]!.toString(16)}`,
      );
    });
  }
  // hand check of the f16 values themselves
  assert.equal(f16ToF32(0x7bf8), 65280);
  assert.equal(f16ToF32(0x7bff), 65504);
});

Deno.test("bf16ToF16Array: any alignment and odd lengths give the same result", () => {
  const buf = new Uint16Array(65536 + 8);
  const out = new Uint16Array(65536 + 8);
  const whole = new Uint16Array(65536);
  bf16ToF16Array(ALL_U16, whole, "clamp");
  for (
    const [so, dOff, len] of [
      [0, 0, 65536],
      [1, 1, 65535],
      [1, 0, 65535],
      [0, 3, 65533],
      [2, 1, 7],
      [1, 1, 1],
      [0, 0, 0],
    ] as [number, number, number][]
  ) {
    buf.set(ALL_U16.subarray(0, len), so);
    out.fill(0x1234);
    const src = buf.subarray(so, so + len);
    const dst = out.subarray(dOff, dOff + len);
    const { overflow } = bf16ToF16Array(src, dst, "clamp");
    assert.deepEqual(dst, whole.subarray(0, len), `src+${so} dst+${dOff} len ${len}`);
    let expected = 0;
    for (let i = 0; i < len; i++) if (((i & 0x7fff) >= 0x4780) && (i & 0x7fff) < 0x7f80) expected++;
    assert.equal(overflow, expected);
    if (dOff > 0) assert.equal(out[dOff - 1], 0x1234, "wrote before dst");
    assert.equal(out[dOff + len], 0x1234, "wrote past dst");
  }
  assert.throws(() => bf16ToF16Array(new Uint16Array(2), new Uint16Array(3), "refuse"), RangeError);
});

Deno.test("bf16ToF32Array: exact, every pattern (bits shifted, NaN payloads kept)", () => {
  const dst = new Float32Array(65536);
  bf16ToF32Array(ALL_U16, dst);
  const bits = new Uint32Array(dst.buffer);
  for (let b = 0; b < 65536; b++) {
    assert.equal(bits[b], (b << 16) >>> 0);
    if (!Number.isNaN(dst[b])) assert.equal(dst[b], bf16ToF32(b));
  }
  assert.deepEqual([...dst.subarray(0x3f80, 0x3f81)], [1]);
  assert.equal(dst[0x8000], -0);
  assert.ok(Object.is(dst[0x8000], -0));
});

Deno.test("f16ToF32Array: whole table equals numpy's float16→float32", () => {
  const dst = new Float32Array(65536);
  f16ToF32Array(ALL_U16, dst);
  // numpy astype(float32) bits; NaN written as sign | 0x7fc00000 | payload << 13.
  assert.equal(sha256(dst), "b636c5716ff84d972782faf02d0194cb8951526bea4cc487082feb47b1860ddf");
  for (let h = 0; h < 65536; h++) {
    const want = f16ToF32(h);
    if (Number.isNaN(want)) assert.ok(Number.isNaN(dst[h]));
    else assert.ok(Object.is(dst[h], want), `0x${h.toString(16)}`);
  }
  assert.equal(dst[0x0001], 2 ** -24);
  assert.equal(dst[0x7bff], 65504);
  assert.equal(dst[0xfc00], -Infinity);
});

Deno.test("f32ToF16Array: equals numpy on 266,008 patterns incl. ties; refuse and clamp", () => {
  const p = patterns();
  assert.equal(sha256(p), "76f4bb6a6c57625cf3c09bb37d6898dae9640d16da67ca0459d4fdd76f975b85");
  const src = new Float32Array(p.buffer);
  const dst = new Uint16Array(p.length);
  const { overflow } = f32ToF16Array(src, dst);
  assert.equal(sha256(dst), "0b33beea67cffff497947d5464f259bbab10a8b4bf3df68ce344dc6c68112e00");
  assert.equal(overflow, 114981);
  for (let i = 0; i < p.length; i += 7) {
    const want = f32ToF16(src[i]!);
    if (isF16Nan(want)) assert.ok(isF16Nan(dst[i]!));
    else assert.equal(dst[i], want, `0x${p[i]!.toString(16)}`);
  }
  const clamped = new Uint16Array(p.length);
  assert.equal(f32ToF16Array(src, clamped, "clamp").overflow, 114981);
  for (let i = 0; i < p.length; i++) {
    const finiteIn = Number.isFinite(src[i]!);
    if (finiteIn && (dst[i]! & 0x7fff) === 0x7c00) {
      assert.equal(clamped[i], (dst[i]! & 0x8000) | 0x7bff);
    } else assert.equal(clamped[i], dst[i]);
  }
  const hand = new Uint16Array(6);
  f32ToF16Array(new Float32Array([65504, 65519.99, 65520, -70000, 2 ** -25, 3 * 2 ** -25]), hand);
  assert.deepEqual([...hand], [0x7bff, 0x7bff, 0x7c00, 0xfc00, 0x0000, 0x0002]);
});

Deno.test("f32ToBf16Array: equals a nearest-value reference on 266,008 patterns", () => {
  const p = patterns();
  const src = new Float32Array(p.buffer);
  const dst = new Uint16Array(p.length);
  const { overflow } = f32ToBf16Array(src, dst);
  // Python: nearest of the two bf16 neighbours compared in double, ties to even; NaN (b>>>16)|0x40.
  assert.equal(sha256(dst), "a8df088e88fa9d6d0f3484f09cb33db7c1b5372f7c14bdc556965c2aff6d635f");
  assert.equal(overflow, 27);
  for (let i = 0; i < p.length; i += 5) {
    assert.equal(dst[i], f32ToBf16(src[i]!), `0x${p[i]!.toString(16)}`);
  }
  const hand = new Uint16Array(5);
  f32ToBf16Array(
    new Float32Array([1, 1 + 2 ** -8, 1 + 3 * 2 ** -8, -0, 3.4028234663852886e38]),
    hand,
  );
  // 1 + 2^-8 is a tie → even 0x3f80; 1 + 3·2^-8 is a tie → even 0x3f82; f32 max → inf.
  assert.deepEqual([...hand], [0x3f80, 0x3f80, 0x3f82, 0x8000, 0x7f80]);
});
