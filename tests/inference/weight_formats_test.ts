/**
 * The projection loading table: the fast bit-pattern path agrees with the
 * codecs' ternaryInfo / tritsFromTernary / ternarizeAbsmean on every float
 * type and edge case, and the packed types decode to trits + one scale.
 */

import assert from "node:assert/strict";
import { f32ToF16 } from "../../lib/codecs/float.ts";
import { ternarizeAbsmean, ternaryInfo, tritsFromTernary } from "../../lib/codecs/ternary.ts";
import { codecOf, GgmlType, packTrits } from "../../lib/codecs/table.ts";
import { packI2S } from "../../lib/codecs/i2s.ts";
import type { FloatType } from "../../lib/inference/linear.ts";
import { ternaryWeights } from "../../lib/inference/weights.ts";
import { encodeFloats } from "./_gguf_builder.ts";

const TYPES: Array<[string, FloatType]> = [
  ["F32", GgmlType.F32],
  ["F16", GgmlType.F16],
  ["BF16", GgmlType.BF16],
];

/** Raw payloads, including bit patterns the f32 path cannot produce (−0, NaN, inf). */
function cases(type: FloatType): Array<[string, Uint8Array]> {
  const enc = (v: number[]) => encodeFloats(Float32Array.from(v), type);
  const negZero = type === GgmlType.F32 ? [0, 0, 0, 0x80] : [0, 0x80];
  const nan = type === GgmlType.F32
    ? [0, 0, 0xc0, 0x7f]
    : type === GgmlType.F16
    ? [0, 0x7e]
    : [0xc0, 0x7f];
  const withBytes = (v: number[], extra: number[]) => new Uint8Array([...enc(v), ...extra]);
  return [
    ["ternary", enc([0.25, 0, -0.25, 0.25, 0, -0.25])],
    ["ternary with −0", withBytes([0.5, -0.5, 0], negZero)],
    ["all zero", enc([0, 0, 0, 0])],
    ["all −0", new Uint8Array([...negZero, ...negZero])],
    ["two magnitudes", enc([0.25, -0.5, 0])],
    ["three magnitudes", enc([0.25, 0.5, 1])],
    ["only positive", enc([2, 2, 0])],
    ["infinities", enc([Infinity, -Infinity, 0])],
    ["NaN", withBytes([0.5, 0, -0.5], nan)],
    [
      "subnormal scale",
      enc([
        type === GgmlType.F16 ? 2 ** -20 : 1e-39,
        0,
        -(type === GgmlType.F16 ? 2 ** -20 : 1e-39),
      ]),
    ],
    ["master weights", enc([0.3, -1.2, 0.01, 2.5, -0.7, 0.02, 0, 0.9])],
  ];
}

for (const [typeName, type] of TYPES) {
  Deno.test(`exactTrits ${typeName} agrees with ternaryInfo + tritsFromTernary`, () => {
    for (const [label, payload] of cases(type)) {
      const n = payload.length / (type === GgmlType.F32 ? 4 : 2);
      const values = codecOf(type).decode(payload, n, "w");
      const info = ternaryInfo(values);
      const fast = codecOf(type).float!.exactTrits(payload, n);
      assert.equal(fast !== null, info.ternary, `${typeName} ${label}: ternary?`);
      if (fast) {
        assert.equal(fast.scale, info.scale, `${typeName} ${label}: scale`);
        assert.deepEqual(
          fast.trits,
          tritsFromTernary(values, info.scale),
          `${typeName} ${label}: trits`,
        );
      }
    }
  });

  Deno.test(`ternaryWeights ${typeName}: ternary values keep their trits, master weights get absmean`, () => {
    const exact = Float32Array.from([0.5, 0, -0.5, 0.5, -0.5, 0, 0, 0.5]);
    const a = ternaryWeights(type, encodeFloats(exact, type), 2, 4, "w");
    assert.equal(a.origin, "ternary");
    assert.equal(a.scale, 0.5);
    assert.deepEqual([...a.trits], [1, 0, -1, 1, -1, 0, 0, 1]);

    const master = Float32Array.from([0.3, -1.2, 0.01, 2.5, -0.7, 0.02, 0, 0.9]);
    const stored = codecOf(type).decode(encodeFloats(master, type), 8, "w");
    const b = ternaryWeights(type, encodeFloats(master, type), 2, 4, "w");
    const want = ternarizeAbsmean(stored);
    assert.equal(b.origin, "absmean");
    assert.equal(b.scale, want.scale);
    assert.deepEqual(b.trits, want.trits);
  });
}

Deno.test("ternaryWeights packed: I2_S and single-scale TQ2_0 give trits + that scale", () => {
  const trits = Int8Array.from({ length: 512 }, (_, i) => ((i * 7) % 3) - 1);
  const i2s = ternaryWeights(GgmlType.I2_S, packI2S(trits, 0.125), 2, 256, "w");
  assert.deepEqual([i2s.origin, i2s.scale], ["packed", 0.125]);
  assert.deepEqual(i2s.trits, trits);
  const tq = ternaryWeights(GgmlType.TQ2_0, packTrits(GgmlType.TQ2_0, trits, 0.125), 2, 256, "w");
  assert.deepEqual([tq.origin, tq.scale], ["packed", 0.125]);
  assert.deepEqual(tq.trits, trits);
});

Deno.test("ternaryWeights TQ2_0 with different block scales falls back to absmean of its values", () => {
  const trits = Int8Array.from({ length: 512 }, (_, i) => (i % 3) - 1);
  const bytes = packTrits(GgmlType.TQ2_0, trits, 1);
  // Give block 1 another scale (f16 d sits after the 64 code bytes of each 66-byte block).
  new DataView(bytes.buffer).setUint16(66 + 64, f32ToF16(3), true);
  const r = ternaryWeights(GgmlType.TQ2_0, bytes, 2, 256, "w");
  const values = Float32Array.from(trits, (t, i) => t * (i < 256 ? 1 : 3));
  const want = ternarizeAbsmean(values);
  assert.equal(r.origin, "absmean");
  assert.equal(r.scale, want.scale);
  assert.deepEqual(r.trits, want.trits);
});
