/**
 * ChunkConverter (reused buffers, statistics from 16-bit patterns through a
 * lookup table) gives the same bytes, overflow counts and statistics, bit for
 * bit, as convertChunk (fresh arrays, statistics from decoded f32 values), for
 * random BF16/F16 chunks at even and odd offsets, overflow and NaN included.
 */

import assert from "node:assert/strict";
import { ChunkConverter, convertChunk, type FloatOutType } from "../../lib/export/convert.ts";
import { StatsAccumulator } from "../../lib/stats/summary.ts";
import { FuzzRng } from "../_fuzz.ts";

Deno.test("ChunkConverter: same bytes, overflow and statistics as convertChunk", () => {
  const rng = new FuzzRng(1515);
  const conv = new ChunkConverter();
  const cases: [string, FloatOutType][] = [["BF16", "F16"], ["F16", "F16"], ["BF16", "BF16"]];
  for (const [dtype, outType] of cases) {
    for (const mode of ["refuse", "clamp"] as const) {
      const fast = new StatsAccumulator(), slow = new StatsAccumulator();
      for (let round = 0; round < 20; round++) {
        const n = 1 + (rng.u32() % 5000);
        const odd = round % 3 === 0 ? 1 : 0;
        const raw = new Uint8Array(2 * n + odd);
        for (let i = 0; i < raw.length; i++) raw[i] = rng.u32() & 0xff;
        const bytes = raw.subarray(odd);
        const expected = convertChunk(dtype, bytes, outType, mode, "w");
        const got = conv.convert(dtype, bytes, outType, mode, "w");
        assert.deepEqual(Uint8Array.from(got.written), Uint8Array.from(expected.written));
        assert.equal(got.overflow, expected.overflow, `${dtype}→${outType} ${mode}`);
        assert.ok("bits16" in got);
        fast.addBits16(got.bits16.bits, got.bits16.table);
        slow.add(expected.values);
      }
      assert.deepEqual(fast.result(), slow.result(), `${dtype}→${outType} ${mode}`);
    }
  }
});
