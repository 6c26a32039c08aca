/**
 * Metadata copying: every key with its value type and position, file_type
 * replaced, quantization_version set to 2 (added after file_type, or
 * replaced where it stands), and a clear error for a value type the writer
 * cannot reproduce (never a silent retype).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { UnsupportedError } from "../../lib/errors.ts";
import { type GgufFile, openGguf } from "../../lib/gguf/reader.ts";
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
    w.addU8("x.u8", 200);
    w.addU32("x.u32", 4_000_000_000);
    w.addI32("x.i32", -5);
    w.addU64("x.u64", 2n ** 60n + 1n);
    w.addF32("x.f32", 0.1);
    w.addF64("x.f64", 0.1);
    w.addBool("x.bool", true);
    w.addStringArray("x.strings", ["a", "Ġb", ""]);
    w.addI32Array("x.i32s", [1, -2, 3]);
    w.addU32Array("x.u32s", [7, 4_000_000_000]);
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

/** A GGUF with one i16 key, written byte by byte (GgufWriter cannot write i16). */
function ggufWithInt16(): Uint8Array {
  const enc = new TextEncoder();
  const parts: number[] = [];
  const u32 = (v: number) => parts.push(v & 255, (v >>> 8) & 255, (v >>> 16) & 255, v >>> 24);
  const u64 = (v: number) => {
    u32(v);
    u32(0);
  };
  const str = (s: string) => {
    const b = enc.encode(s);
    u64(b.length);
    parts.push(...b);
  };
  parts.push(0x47, 0x47, 0x55, 0x46); // GGUF
  u32(3);
  u64(0); // tensors
  u64(2); // kvs
  str("general.architecture");
  u32(GgufValueType.STRING);
  str("llama");
  str("llama.weird");
  u32(GgufValueType.INT16);
  parts.push(0xfe, 0xff); // -2
  while (parts.length % 32) parts.push(0);
  return new Uint8Array(parts);
}

Deno.test("metadata: a value type the writer cannot produce is an error naming the key", async () => {
  const path = join(tmp, "i16.gguf");
  await Deno.writeFile(path, ggufWithInt16());
  const src = await openGguf(path);
  try {
    assert.equal(src.kv("llama.weird")!.value, -2);
    assert.throws(
      () => copyMetadata(new GgufWriter(), src, 40),
      (e: unknown) => e instanceof UnsupportedError && /"llama\.weird" is INT16/.test(e.message),
    );
  } finally {
    src.close();
  }
});

Deno.test("remove the temporary files", async () => {
  await Deno.remove(tmp, { recursive: true });
});
