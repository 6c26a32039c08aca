/**
 * Metadata copying: every key with its value type and position, file_type
 * replaced, quantization_version set to 2 (added after file_type, or
 * replaced where it stands), and every value type copied with its type
 * (checked against the independent @huggingface/gguf reader).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { hfGguf } from "../../deps.ts";
import { FormatError } from "../../lib/errors.ts";
import { type GgufFile, type GgufScalar, openGguf } from "../../lib/gguf/reader.ts";
import { GgufValueType } from "../../lib/gguf/types.ts";
import { GgufWriter } from "../../lib/gguf/writer.ts";
import { copyMetadata } from "../../lib/quantize/metadata.ts";

const tmp = await Deno.makeTempDir({ prefix: "quantize-meta-" });

async function save(name: string, w: GgufWriter): Promise<string> {
  const path = join(tmp, name);
  const chunks: Uint8Array[] = [];
  await w.write(
    { write: (c) => Promise.resolve(void chunks.push(c.slice())) },
    () => new Uint8Array(0),
  );
  const all = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    all.set(c, o);
    o += c.length;
  }
  await Deno.writeFile(path, all);
  return path;
}

async function roundTrip(
  name: string,
  build: (w: GgufWriter) => void,
  fileType: number,
): Promise<[GgufFile, GgufFile]> {
  const w = new GgufWriter(64);
  build(w);
  const src = await openGguf(await save(`${name}-src.gguf`, w));
  const out = new GgufWriter(src.alignment);
  copyMetadata(out, src, fileType);
  return [src, await openGguf(await save(`${name}-out.gguf`, out))];
}

Deno.test("metadata: every type the writer has is copied with its type; file_type added before the first non-general key", async () => {
  const [src, out] = await roundTrip("types", (w) => {
    w.addString("general.architecture", "bitnet-b1.58");
    w.addString("general.name", "x");
    w.add("x.u8", GgufValueType.UINT8, 200);
    w.addU32("x.u32", 4_000_000_000);
    w.add("x.i32", GgufValueType.INT32, -5);
    w.add("x.u64", GgufValueType.UINT64, 2n ** 60n + 1n);
    w.addF32("x.f32", 0.1);
    w.add("x.f64", GgufValueType.FLOAT64, 0.1);
    w.addBool("x.bool", true);
    w.addStringArray("x.strings", ["a", "Ġb", ""]);
    w.addI32Array("x.i32s", [1, -2, 3]);
    w.add("x.u32s", GgufValueType.ARRAY, [7, 4_000_000_000], GgufValueType.UINT32);
    w.addF32Array("x.f32s", [0.5, -1e-8]);
  }, 40);
  try {
    assert.deepEqual([...out.metadata.keys()], [
      "general.alignment",
      "general.architecture",
      "general.name",
      "general.file_type",
      "general.quantization_version",
      ...[...src.metadata.keys()].filter((k) => k.startsWith("x.")),
    ]);
    assert.equal(out.alignment, 64);
    for (const [key, kv] of src.metadata) {
      const got = out.kv(key)!;
      assert.equal(got.type, kv.type, key);
      assert.equal(got.arrayType, kv.arrayType, key);
      assert.deepEqual(got.value, kv.value, key);
    }
    assert.equal(out.getNumber("general.file_type"), 40);
    assert.equal(out.getNumber("general.quantization_version"), 2);
  } finally {
    src.close();
    out.close();
  }
});

Deno.test("metadata: file_type and an existing quantization_version are replaced where they stand", async () => {
  const [src, out] = await roundTrip("replace", (w) => {
    w.addString("general.architecture", "bitnet");
    w.addU32("general.quantization_version", 1);
    w.addString("general.name", "y");
    w.addU32("general.file_type", 1);
    w.addU32("bitnet.block_count", 2);
  }, 37);
  try {
    assert.deepEqual([...out.metadata.keys()], [...src.metadata.keys()]);
    assert.equal(out.getNumber("general.file_type"), 37);
    assert.equal(out.getNumber("general.quantization_version"), 2);
    assert.equal(out.kv("general.quantization_version")!.type, GgufValueType.UINT32);
  } finally {
    src.close();
    out.close();
  }
});

/** One key of every value type, scalars and arrays, at the edges of their ranges. */
const EVERY_TYPE: Array<[string, GgufValueType, GgufScalar | GgufScalar[], GgufValueType?]> = [
  ["x.u8", GgufValueType.UINT8, 255],
  ["x.i8", GgufValueType.INT8, -128],
  ["x.u16", GgufValueType.UINT16, 65535],
  ["x.i16", GgufValueType.INT16, -2],
  ["x.u32", GgufValueType.UINT32, 4_000_000_000],
  ["x.i32", GgufValueType.INT32, -2_000_000_000],
  ["x.f32", GgufValueType.FLOAT32, 0.5],
  ["x.bool", GgufValueType.BOOL, false],
  ["x.str", GgufValueType.STRING, "Ġü"],
  ["x.u64", GgufValueType.UINT64, 2n ** 64n - 1n],
  ["x.i64", GgufValueType.INT64, -(2n ** 63n)],
  ["x.f64", GgufValueType.FLOAT64, 0.1],
  ["x.i8s", GgufValueType.ARRAY, [-1, 127], GgufValueType.INT8],
  ["x.u16s", GgufValueType.ARRAY, [0, 65535], GgufValueType.UINT16],
  ["x.i64s", GgufValueType.ARRAY, [-1n, 5n], GgufValueType.INT64],
  ["x.bools", GgufValueType.ARRAY, [true, false], GgufValueType.BOOL],
];

Deno.test("metadata: every value type round-trips through add and copyMetadata, as @huggingface/gguf reads it", async () => {
  const [src, out] = await roundTrip("every", (w) => {
    w.addString("general.architecture", "llama");
    for (const [key, type, value, elem] of EVERY_TYPE) w.add(key, type, value, elem);
  }, 40);
  try {
    const h = await hfGguf(out.path, { allowLocalFile: true });
    const meta = h.metadata as unknown as Record<string, unknown>;
    for (const [key, type, value, elem] of EVERY_TYPE) {
      assert.equal(out.kv(key)!.type, type, key);
      assert.equal(out.kv(key)!.arrayType, elem, key);
      assert.deepEqual(out.kv(key)!.value, value, key);
      assert.deepEqual(out.kv(key)!.value, src.kv(key)!.value, key);
      // @huggingface/gguf gives 64-bit integers as bigint, everything else as we do.
      assert.deepEqual(meta[key], value, `${key} (@huggingface/gguf)`);
    }
  } finally {
    src.close();
    out.close();
  }
});

Deno.test("writer add: values outside their type, and nested arrays, are refused naming the key", () => {
  const w = new GgufWriter();
  assert.throws(() => w.add("k.u8", GgufValueType.UINT8, 256), /k\.u8: 256 is not a u8/);
  assert.throws(() => w.add("k.i16", GgufValueType.INT16, 1.5), /k\.i16: 1\.5 is not a i16/);
  assert.throws(() => w.add("k.u32", GgufValueType.UINT32, -1), /k\.u32: -1 is not a u32/);
  assert.throws(() => w.add("k.f32", GgufValueType.FLOAT32, "x"), /k\.f32: x is not a f32/);
  assert.throws(() => w.add("k.s", GgufValueType.STRING, 3), FormatError);
  assert.throws(
    () => w.add("k.a", GgufValueType.ARRAY, [[1]] as unknown as GgufScalar[], GgufValueType.ARRAY),
    /k\.a: an array needs a scalar element type/,
  );
  assert.throws(() => w.add("k.u64", GgufValueType.UINT64, -1n), /k\.u64: -1 is not a u64/);
});

Deno.test("remove the temporary files", async () => {
  await Deno.remove(tmp, { recursive: true });
});
