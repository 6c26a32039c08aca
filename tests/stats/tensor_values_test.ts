import assert from "node:assert/strict";
import { FormatError, UnsupportedError } from "../../lib/errors.ts";
import { packI2S } from "../../lib/codecs/i2s.ts";
import { codecOf, packTrits } from "../../lib/codecs/table.ts";
import { openGguf } from "../../lib/gguf/reader.ts";
import { GgmlType } from "../../lib/gguf/types.ts";
import { GgufWriter } from "../../lib/gguf/writer.ts";
import { readTensorValues, tensorValueChunks } from "../../lib/stats/tensor_values.ts";

Deno.test("codec decode: F16 and BF16 bit patterns by hand", () => {
  // F16: 0x3c00 = 1, 0xc000 = -2, 0x3555 = 0.333251953125, 0x0001 = 2^-24.
  const f16 = new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x3555, 0x0001]).buffer);
  assert.deepEqual([...codecOf(GgmlType.F16).decode(f16, 4, "t")], [
    1,
    -2,
    0.333251953125,
    2 ** -24,
  ]);
  // BF16: 0x3f80 = 1, 0xc0a0 = -5, 0x3c23 = 0.0099487304...
  const bf16 = new Uint8Array(new Uint16Array([0x3f80, 0xc0a0, 0x3c23]).buffer);
  const v = codecOf(GgmlType.BF16).decode(bf16, 3, "t");
  assert.equal(v[0], 1);
  assert.equal(v[1], -5);
  assert.equal(v[2], 0.0099487304687500);
});

Deno.test("codec decode: Q8_0 block is d * q", () => {
  const bytes = new Uint8Array(34);
  bytes[0] = 0x00; // d = 0.5 = f16 0x3800
  bytes[1] = 0x38;
  for (let j = 0; j < 32; j++) bytes[2 + j] = (j - 16) & 0xff;
  const v = codecOf(GgmlType.Q8_0).decode(bytes, 32, "t");
  for (let j = 0; j < 32; j++) assert.equal(v[j], (j - 16) * 0.5);
});

Deno.test("codec decode: ternary types through their codecs", () => {
  const trits = Int8Array.from({ length: 256 }, (_, i) => ((i * 7) % 3) - 1);
  const i2s = codecOf(GgmlType.I2_S).decode(packI2S(trits, 0.25), 256, "t");
  const tq2 = codecOf(GgmlType.TQ2_0).decode(packTrits(GgmlType.TQ2_0, trits, 0.25), 256, "t");
  const tq1 = codecOf(GgmlType.TQ1_0).decode(packTrits(GgmlType.TQ1_0, trits, 0.25), 256, "t");
  for (let i = 0; i < 256; i++) {
    assert.equal(i2s[i], trits[i]! * 0.25);
    assert.equal(tq2[i], trits[i]! * 0.25);
    assert.equal(tq1[i], trits[i]! * 0.25);
  }
});

Deno.test("codec decode: short payloads and unknown types are clear errors", () => {
  assert.throws(() => codecOf(GgmlType.F32).decode(new Uint8Array(6), 2, "t"), FormatError);
  assert.throws(() => codecOf(GgmlType.F16).decode(new Uint8Array(3), 2, "t"), FormatError);
  assert.throws(() => codecOf(99).decode(new Uint8Array(10), 2, "t"), UnsupportedError);
  assert.equal(codecOf(GgmlType.Q8_0).name, "Q8_0");
  assert.throws(() => codecOf(99), UnsupportedError);
});

Deno.test("tensorValueChunks streams whole elements and matches readTensorValues", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/t.gguf`;
  const values = Float32Array.from({ length: 1000 }, (_, i) => (i % 17) - 8);
  const f16 = new Uint16Array(1000);
  // -8..8 as F16 bits, computed from the definition: sign, exponent 15-biased, 10-bit mantissa.
  const toF16 = (x: number) => {
    if (x === 0) return 0;
    const s = x < 0 ? 0x8000 : 0;
    const a = Math.abs(x);
    const e = Math.floor(Math.log2(a));
    return s | ((e + 15) << 10) | Math.round((a / 2 ** e - 1) * 1024);
  };
  for (let i = 0; i < 1000; i++) f16[i] = toF16(values[i]!);
  const w = new GgufWriter();
  w.addString("general.architecture", "llama");
  w.addTensorInfo("a", [10, 100], GgmlType.F16);
  w.addTensorInfo("b", [1000], GgmlType.F32);
  const payloads = [new Uint8Array(f16.buffer), new Uint8Array(values.buffer)];
  const file = await Deno.open(path, { write: true, create: true });
  await w.write({ write: async (c) => void (await file.write(c)) }, (_t, i) => payloads[i]!);
  file.close();
  const g = await openGguf(path);
  try {
    for (const name of ["a", "b"]) {
      const t = g.tensor(name);
      assert.deepEqual([...await readTensorValues(g, t)], [...values]);
      const chunks: number[] = [];
      let n = 0;
      for await (const c of tensorValueChunks(g, t, 102)) {
        n++;
        chunks.push(...c);
      }
      assert.ok(n > 5, "several chunks");
      assert.deepEqual(chunks, [...values]);
    }
  } finally {
    g.close();
  }
});
