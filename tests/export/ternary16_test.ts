import assert from "node:assert/strict";
import { Ternary16 } from "../../lib/export/ternary16.ts";
import { ternarizeAbsmeanByDivision } from "../codecs/_division.ts";
import { bf16ToF32, f16ToF32 } from "../../lib/codecs/float.ts";
import { NotTernaryError } from "../../lib/errors.ts";
import { FuzzRng } from "../_fuzz.ts";

for (
  const [name, decode, bias] of [["BF16", bf16ToF32, 0x3c00], ["F16", f16ToF32, 0x2000]] as const
) {
  Deno.test(`Ternary16 (${name}): the table gives torch's absmean ternarization, chunk by chunk`, () => {
    const rng = new FuzzRng(name === "BF16" ? 3 : 4);
    const n = 40_000;
    const src = new Uint16Array(n);
    // Small magnitudes of both signs around the scale, plus exact copies of a few values so that
    // ties with ±s/2 are likely to be exercised through the histogram.
    for (let i = 0; i < n; i++) src[i] = (rng.chance(0.5) ? 0x8000 : 0) | (bias + rng.int(0x0c00));
    const values = Float32Array.from(src, decode);
    const oracle = ternarizeAbsmeanByDivision(values);
    const t = new Ternary16(decode, "w");
    t.count(src.subarray(0, 12345));
    t.count(src.subarray(12345));
    const { scale } = t.finish(() => [0xaaaa, 0x0000, 0x5555]);
    assert.equal(scale, oracle.scale);
    const out = new Uint16Array(n);
    t.map(src.subarray(0, 777), out.subarray(0, 777));
    t.map(src.subarray(777), out.subarray(777));
    let nonzero = 0, negatives = 0;
    for (let i = 0; i < n; i++) {
      const trit = oracle.trits[i]!;
      assert.equal(out[i], trit > 0 ? 0x5555 : trit < 0 ? 0xaaaa : 0, `element ${i}`);
      if (trit !== 0) nonzero++;
      if (trit < 0) negatives++;
    }
    assert.equal(t.nonzero, nonzero);
    assert.equal(t.negatives, negatives);
    assert.equal(t.total, n);
  });
}

Deno.test("Ternary16: NaN in the source is refused", () => {
  const t = new Ternary16(bf16ToF32, "blk.0.attn_q.weight");
  t.count(new Uint16Array([0x3f80, 0x7fc0]));
  assert.throws(
    () => t.finish(() => [1, 2, 3]),
    (e: Error) =>
      e instanceof NotTernaryError && /blk\.0\.attn_q\.weight: holds NaN/.test(e.message),
  );
});
