/**
 * The F16/BF16 table fast path says exactly what the codecs' value-level
 * functions say (`ternaryInfo`, `tritsFromTernary`): checked on every one of
 * the 65536 bit patterns for several scales, including subnormal, largest
 * finite, and the all-zero case; and its counts on random data.
 */

import assert from "node:assert/strict";
import { bf16ToF32, f16ToF32 } from "../../lib/codecs/float.ts";
import { ternaryInfo, tritsFromTernary } from "../../lib/codecs/ternary.ts";
import {
  classifyBits16,
  firstInvalid16,
  firstMagnitude16,
  INVALID,
  ternaryCodeTable16,
} from "../../lib/codecs/ternary_bits.ts";
import { FuzzRng } from "../_fuzz.ts";

const CASES: Array<[string, (b: number) => number, number]> = [
  ["F16 1.0", f16ToF32, 0x3c00],
  ["F16 smallest subnormal", f16ToF32, 0x0001],
  ["F16 largest finite", f16ToF32, 0x7bff],
  ["F16 0.0197 (a fixture-like s)", f16ToF32, 0x250f],
  ["BF16 1.0", bf16ToF32, 0x3f80],
  ["BF16 smallest subnormal", bf16ToF32, 0x0001],
  ["all zero", f16ToF32, 0],
];

for (const [label, decode, scaleBits] of CASES) {
  Deno.test(`ternary_bits: every 16-bit pattern, ${label}`, () => {
    const table = ternaryCodeTable16(scaleBits);
    const s = decode(scaleBits);
    for (let b = 0; b < 65536; b++) {
      const v = decode(b);
      // What the value-level functions decide for this one value.
      let want: number;
      if (v === 0) want = 1;
      else if (s !== 0 && v === s) want = 2;
      else if (s !== 0 && v === -s) want = 0;
      else want = INVALID;
      assert.equal(table[b], want, `bits 0x${b.toString(16)} (${v})`);
      if (want !== INVALID) {
        assert.equal(tritsFromTernary([v], s)[0], want - 1);
        if (s !== 0) assert.ok(ternaryInfo([v, s, -s]).ternary);
      } else if (s !== 0) {
        assert.equal(ternaryInfo([v, s, -s, 0]).ternary, false, `${v} breaks {-s, 0, s}`);
      }
    }
  });
}

Deno.test("ternary_bits: counts and trits on random data; an invalid element is flagged", () => {
  const rng = new FuzzRng(99);
  const S = 0x250f, table = ternaryCodeTable16(S);
  const n = 10_000;
  const bits = new Uint16Array(n);
  const want = [0, 0, 0];
  const wantTrits = new Int8Array(n);
  for (let i = 0; i < n; i++) {
    const r = rng.int(3);
    bits[i] = r === 0 ? S | 0x8000 : r === 1 ? (rng.int(2) ? 0x8000 : 0) : S;
    want[r]!++;
    wantTrits[i] = r - 1;
  }
  const counts = new Float64Array(4);
  const trits = new Int8Array(n);
  classifyBits16(bits, table, counts, trits);
  assert.deepEqual([...counts], [...want, 0]);
  assert.deepEqual(trits, wantTrits);
  classifyBits16(bits, table, counts);
  assert.deepEqual([...counts], [...want.map((c) => 2 * c), 0]);

  bits[1234] = S + 1;
  const bad = new Float64Array(4);
  classifyBits16(bits, table, bad);
  assert.ok(bad[3]! > 0);
  assert.equal(firstInvalid16(bits, table), 1234);
  assert.equal(firstMagnitude16(new Uint16Array([0x8000, 0, 0xa50f, 0x250f])), 0x250f);
  assert.equal(firstMagnitude16(new Uint16Array([0x8000, 0])), 0);
  assert.throws(() => ternaryCodeTable16(0x8001), RangeError);
});
