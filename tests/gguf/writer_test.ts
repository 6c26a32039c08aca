import assert from "node:assert/strict";
import { GgufWriter } from "../../lib/gguf/writer.ts";
import { GgmlType } from "../../lib/gguf/types.ts";
import { hfGguf } from "../../deps.ts";

async function writeToBytes(w: GgufWriter, fill: (i: number) => number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  await w.write(
    { write: (c) => Promise.resolve(void chunks.push(c.slice())) },
    (t, i) => new Uint8Array(t.nbytes).fill(fill(i)),
  );
  const all = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    all.set(c, o);
    o += c.length;
  }
  return all;
}

Deno.test("writer: header bytes follow the GGUF v3 layout computed by hand", async () => {
  const w = new GgufWriter();
  w.addString("a", "xy");
  w.addTensorInfo("t", [2, 3], GgmlType.F32);
  const bytes = await writeToBytes(w, () => 9);
  const v = new DataView(bytes.buffer);
  assert.equal(v.getUint32(0, true), 0x46554747); // "GGUF"
  assert.deepEqual([...bytes.subarray(0, 4)], [0x47, 0x47, 0x55, 0x46]);
  assert.equal(v.getUint32(4, true), 3);
  assert.equal(v.getBigUint64(8, true), 1n); // tensor count
  assert.equal(v.getBigUint64(16, true), 2n); // general.alignment + "a"
  // KV 1: general.alignment u32 32
  let p = 24;
  assert.equal(v.getBigUint64(p, true), 17n);
  p += 8;
  assert.equal(new TextDecoder().decode(bytes.subarray(p, p + 17)), "general.alignment");
  p += 17;
  assert.equal(v.getUint32(p, true), 4); // UINT32
  assert.equal(v.getUint32(p + 4, true), 32);
  p += 8;
  // KV 2: "a" string "xy"
  assert.equal(v.getBigUint64(p, true), 1n);
  p += 9;
  assert.equal(v.getUint32(p, true), 8);
  assert.equal(v.getBigUint64(p + 4, true), 2n);
  p += 12 + 2;
  // tensor info: name "t", 2 dims reversed [3, 2], type 0, offset 0
  assert.equal(v.getBigUint64(p, true), 1n);
  p += 9;
  assert.equal(v.getUint32(p, true), 2);
  assert.equal(v.getBigUint64(p + 4, true), 3n); // ne[0] = in (contiguous)
  assert.equal(v.getBigUint64(p + 12, true), 2n);
  assert.equal(v.getUint32(p + 20, true), 0);
  assert.equal(v.getBigUint64(p + 24, true), 0n);
  p += 32;
  const dataStart = Math.ceil(p / 32) * 32;
  assert.ok(bytes.subarray(p, dataStart).every((b) => b === 0), "zero padding before data");
  // 24 bytes of data, padded to 32 (the last tensor too).
  assert.equal(bytes.length, dataStart + 32);
  assert.ok(bytes.subarray(dataStart, dataStart + 24).every((b) => b === 9));
  assert.ok(bytes.subarray(dataStart + 24).every((b) => b === 0));
});

Deno.test("writer: tensors are contiguous in info order, each padded to the alignment", () => {
  const w = new GgufWriter();
  const a = w.addTensorInfo("a", [5], GgmlType.F32); // 20 bytes -> 32
  const b = w.addTensorInfo("b", [3, 256], GgmlType.TQ2_0); // 3 * 66 = 198 -> 224
  const c = w.addTensorInfo("c", [7], GgmlType.F16);
  assert.equal(a.offset, 0);
  assert.equal(b.offset, 32);
  assert.equal(b.nbytes, 198);
  assert.equal(c.offset, 32 + 224);
});

Deno.test("writer: the independent @huggingface/gguf reader sees the same metadata and infos", async () => {
  const w = new GgufWriter();
  w.addString("general.architecture", "llama");
  w.addU32("llama.block_count", 2);
  w.addF32("llama.attention.layer_norm_rms_epsilon", 1e-5);
  w.addBool("tokenizer.ggml.add_bos_token", true);
  w.addStringArray("tokenizer.ggml.tokens", ["a", "Ġb", "ü"]);
  w.addI32Array("tokenizer.ggml.token_type", [1, 3, 6]);
  w.addTensorInfo("token_embd.weight", [3, 32], GgmlType.F16);
  w.addTensorInfo("output_norm.weight", [32], GgmlType.F32);
  const path = await Deno.makeTempFile({ suffix: ".gguf" });
  try {
    await Deno.writeFile(path, await writeToBytes(w, (i) => i + 1));
    const h = await hfGguf(path, { allowLocalFile: true });
    const meta = h.metadata as unknown as Record<string, unknown>;
    assert.equal(meta["general.architecture"], "llama");
    assert.equal(meta["general.alignment"], 32);
    assert.equal(meta["llama.block_count"], 2);
    assert.equal(meta["llama.attention.layer_norm_rms_epsilon"], Math.fround(1e-5));
    assert.equal(meta["tokenizer.ggml.add_bos_token"], true);
    assert.deepEqual(meta["tokenizer.ggml.tokens"], ["a", "Ġb", "ü"]);
    assert.deepEqual(meta["tokenizer.ggml.token_type"], [1, 3, 6]);
    assert.deepEqual(
      h.tensorInfos.map((t) => [t.name, t.shape.map(Number), t.dtype, Number(t.offset)]),
      [["token_embd.weight", [32, 3], 1, 0], ["output_norm.weight", [32], 0, 192]],
    );
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("writer: refuses duplicate keys, long names, bad shapes and wrong payload sizes", async () => {
  const w = new GgufWriter();
  w.addString("k", "v");
  assert.throws(() => w.addString("k", "again"), /duplicate GGUF key "k"/);
  assert.throws(() => w.addTensorInfo("x".repeat(64), [1], GgmlType.F32), /1 to 63 bytes/);
  assert.throws(() => w.addTensorInfo("bad", [0, 3], GgmlType.F32), /bad dimension/);
  assert.throws(() => w.addTensorInfo("tq", [2, 100], GgmlType.TQ2_0), /not a multiple of TQ2_0/);
  w.addTensorInfo("ok", [4], GgmlType.F32);
  await assert.rejects(
    w.write({ write: () => Promise.resolve() }, () => new Uint8Array(15)),
    /ok: produced 15 bytes, expected 16/,
  );
});
