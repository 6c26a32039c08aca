import assert from "node:assert/strict";
import { openGguf } from "../../lib/gguf/reader.ts";
import { GgufWriter } from "../../lib/gguf/writer.ts";
import { GgmlType, GgufValueType } from "../../lib/gguf/types.ts";
import { FormatError, UnsupportedError } from "../../lib/errors.ts";
import { expectOnlyCleanErrors, FuzzRng, mutate } from "../_fuzz.ts";

/** A small valid GGUF: a few KVs of every kind and three tensors. */
async function sampleGguf(): Promise<Uint8Array> {
  const w = new GgufWriter();
  w.addString("general.architecture", "llama");
  w.addU32("llama.block_count", 1);
  w.addF32("llama.rope.freq_base", 10000);
  w.addBool("flag", false);
  w.add("big", GgufValueType.UINT64, 1n << 40n);
  w.addStringArray("tokenizer.ggml.tokens", ["a", "b", "c"]);
  w.addI32Array("tokenizer.ggml.token_type", [1, 1, 3]);
  w.addTensorInfo("a.weight", [2, 8], GgmlType.F16);
  w.addTensorInfo("b.weight", [256], GgmlType.TQ2_0);
  w.addTensorInfo("c.weight", [3], GgmlType.F32);
  const chunks: Uint8Array[] = [];
  await w.write(
    { write: (c) => Promise.resolve(void chunks.push(c.slice())) },
    (t, i) => new Uint8Array(t.nbytes).map((_, j) => (i * 31 + j) & 0xff),
  );
  const out = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

async function withFile<T>(bytes: Uint8Array, fn: (path: string) => Promise<T>): Promise<T> {
  const path = await Deno.makeTempFile({ suffix: ".gguf" });
  try {
    await Deno.writeFile(path, bytes);
    return await fn(path);
  } finally {
    await Deno.remove(path);
  }
}

Deno.test("reader: round-trips metadata, tensor infos and payloads", async () => {
  const bytes = await sampleGguf();
  await withFile(bytes, async (path) => {
    const g = await openGguf(path);
    try {
      assert.equal(g.version, 3);
      assert.equal(g.architecture, "llama");
      assert.equal(g.getNumber("llama.block_count"), 1);
      assert.equal(g.getBool("flag"), false);
      assert.equal(g.kv("big")?.value, 1n << 40n);
      assert.deepEqual(g.getArray("tokenizer.ggml.tokens"), ["a", "b", "c"]);
      const a = g.tensor("a.weight");
      assert.deepEqual(a.ne, [8, 2]);
      assert.deepEqual(a.shape, [2, 8]);
      assert.equal(a.nbytes, 32);
      const b = g.tensor("b.weight");
      assert.equal(b.nbytes, 66);
      assert.equal(b.offset, 32);
      const payload = await g.readTensor(b);
      assert.deepEqual([...payload.subarray(0, 3)], [31, 32, 33]);
      assert.equal(g.tensor("c.weight").offset, 32 + 96);
      assert.throws(() => g.tensor("nope"), /tensor "nope" is missing/);
      assert.throws(() => g.getString("llama.block_count"), /"llama.block_count" is not a string/);
    } finally {
      g.close();
    }
  });
});

function patchU32(bytes: Uint8Array, at: number, v: number): Uint8Array {
  const b = bytes.slice();
  new DataView(b.buffer).setUint32(at, v, true);
  return b;
}

/** Offset of the first occurrence of `needle` (a tensor name or key) in the header. */
function find(bytes: Uint8Array, text: string): number {
  const needle = new TextEncoder().encode(text);
  outer: for (let i = 0; i < bytes.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
    return i;
  }
  throw new Error(`${text} not found`);
}

Deno.test("reader: clear errors for bad magic, big-endian, old versions and truncation", async () => {
  const good = await sampleGguf();
  const cases: [Uint8Array, RegExp, typeof FormatError | typeof UnsupportedError][] = [
    [patchU32(good, 0, 0x12345678), /not a GGUF file/, FormatError],
    [patchU32(good, 4, 0x03000000), /big-endian/, UnsupportedError],
    [patchU32(good, 4, 1), /version 1 is not supported/, UnsupportedError],
    [good.slice(0, 100), /past the end|needs \d+ bytes|larger than the file allows/, FormatError],
    // Cut into the last tensor's payload (its 20 padding bytes and 5 data bytes).
    [good.slice(0, good.length - 25), /past the end/, FormatError],
  ];
  for (const [bytes, re, cls] of cases) {
    await withFile(bytes, async (path) => {
      await assert.rejects(
        openGguf(path),
        (e: Error) => e instanceof cls && re.test(e.message) && e.message.includes(path),
      );
    });
  }
});

Deno.test("reader: nested arrays, unknown value types, unknown ggml types, offsets past the end", async () => {
  const good = await sampleGguf();
  // "tokenizer.ggml.tokens" is followed by its value type (9) and element type (8).
  const tokensAt = find(good, "tokenizer.ggml.tokens") + "tokenizer.ggml.tokens".length;
  const nested = patchU32(good, tokensAt + 4, 9);
  const unknownType = patchU32(good, find(good, "flag") + 4, 99);
  const cInfo = find(good, "c.weight") + "c.weight".length; // n_dims u32, ne[0] u64, type u32, offset u64
  const unknownGgml = patchU32(good, cInfo + 4 + 8, 77);
  const pastEnd = good.slice();
  new DataView(pastEnd.buffer).setBigUint64(cInfo + 4 + 8 + 4, 1n << 20n, true);
  const hugeCount = good.slice();
  new DataView(hugeCount.buffer).setBigUint64(8, 1n << 60n, true);
  const hugeString = good.slice();
  new DataView(hugeString.buffer).setBigUint64(24, 1n << 50n, true);
  const expectations: [Uint8Array, RegExp][] = [
    [nested, /"tokenizer.ggml.tokens" is a nested array/],
    [unknownType, /"flag" has unknown value type 99/],
    [unknownGgml, /tensor c.weight: unknown or unsupported ggml type 77/],
    [pastEnd, /offset|past the end/],
    [hugeCount, /tensor_count = \d+ .* larger than the file allows/],
    [hugeString, /key #0 length = \d+ .* larger than the file allows/],
  ];
  for (const [bytes, re] of expectations) {
    await withFile(bytes, async (path) => {
      await assert.rejects(openGguf(path), re);
    });
  }
});

Deno.test("reader: seeded mutation fuzz (2,000 cases) throws only our error classes", async () => {
  const good = await sampleGguf();
  const rng = new FuzzRng(20261126);
  const dir = await Deno.makeTempDir();
  const outcomes = new Map<string, number>();
  try {
    for (let i = 0; i < 2000; i++) {
      // Mostly the header (where parsing happens), sometimes anywhere.
      const region = rng.chance(0.85) ? { start: 0, end: 420 } : undefined;
      const { bytes, log } = mutate(good, rng, region);
      const path = `${dir}/case.gguf`;
      await Deno.writeFile(path, bytes);
      const outcome = await expectOnlyCleanErrors(`case ${i} [${log}]`, async () => {
        const g = await openGguf(path);
        try {
          for (const t of g.tensors) await g.readTensor(t);
        } finally {
          g.close();
        }
      });
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  // The fuzz must actually reach the error paths, not only pass through harmless bytes.
  assert.ok((outcomes.get("FormatError") ?? 0) > 200, `outcomes: ${JSON.stringify([...outcomes])}`);
});

/** A GGUF v3 with no tensors and one KV, "s": an array of strings given as raw bytes. */
function stringArrayGguf(items: Uint8Array[]): Uint8Array {
  const parts: number[] = [];
  const u32 = (v: number) => parts.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24);
  const u64 = (v: number) => (u32(v), u32(0));
  const bytes = (b: Uint8Array) => (u64(b.length), parts.push(...b));
  parts.push(0x47, 0x47, 0x55, 0x46); // "GGUF"
  u32(3), u64(0), u64(1);
  bytes(new TextEncoder().encode("s"));
  u32(GgufValueType.ARRAY), u32(GgufValueType.STRING), u64(items.length);
  for (const b of items) bytes(b);
  return Uint8Array.from(parts);
}

/** Byte strings that mix well-formed 1- to 4-byte UTF-8 with the ill-formed kinds. */
function randomUtf8ish(rng: FuzzRng): Uint8Array {
  const out: number[] = [];
  const n = rng.int(rng.chance(0.1) ? 100 : 12);
  for (let i = 0; i < n; i++) {
    const kind = rng.int(9);
    const cont = () => 0x80 + rng.int(64);
    if (kind < 3) out.push(rng.int(0x80)); // ASCII
    else if (kind === 3) out.push(0xc2 + rng.int(30), cont()); // 2 bytes
    else if (kind === 4) out.push(0xe0 + rng.int(16), 0x80 + rng.int(64), cont()); // 3 (some overlong or surrogate)
    else if (kind === 5) out.push(0xf0 + rng.int(5), cont(), cont(), cont()); // 4 bytes
    else if (kind === 6) out.push(0xef, 0xbb, 0xbf); // U+FEFF, kept
    else if (kind === 7) out.push(rng.int(256)); // any byte
    else out.push(0xe2, 0x96, ...(rng.chance(0.5) ? [0x81] : [])); // Ġ-like, sometimes cut short
  }
  return Uint8Array.from(out);
}

Deno.test("reader: array strings decode exactly as a fatal TextDecoder does, or fail naming the element", async () => {
  const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const rng = new FuzzRng(20261207);
  let good = 0, bad = 0;
  for (let i = 0; i < 400; i++) {
    const items = [new TextEncoder().encode("ok"), randomUtf8ish(rng), new Uint8Array(0)];
    let want: string | null;
    try {
      want = strict.decode(items[1]);
    } catch {
      want = null;
    }
    await withFile(stringArrayGguf(items), async (path) => {
      if (want === null) {
        bad++;
        await assert.rejects(openGguf(path), (e: Error) => {
          assert.ok(e instanceof FormatError && e.message.includes('"s"[1]'), e.message);
          return true;
        });
        return;
      }
      good++;
      const g = await openGguf(path);
      assert.deepEqual(g.metadata.get("s")?.value, ["ok", want, ""], `case ${i}`);
      g.close();
    });
  }
  assert.ok(good > 100 && bad > 100, `${good} well-formed, ${bad} ill-formed`);
});
