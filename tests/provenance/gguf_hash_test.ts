import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { openGguf } from "../../lib/gguf/reader.ts";
import {
  formatGgufHashManifest,
  ggufHashManifest,
  hashGguf,
  parseGgufHashAlgos,
  parseGgufHashManifest,
  uuidV5Hasher,
} from "../../lib/provenance/gguf_hash.ts";
import { FormatError, UsageError } from "../../lib/errors.ts";
import { GgufWriter } from "../../lib/gguf/writer.ts";
import { GgmlType } from "../../lib/gguf/types.ts";
import { xxh64Reference } from "../io/_xxh64_reference.ts";
import { bytesOf, digest, payloadRanges, writeSmallGguf } from "./_fixtures.ts";

const enc = new TextEncoder();
/** XXH64 by the BigInt reference, as gguf-hash prints it. */
const refHex = (b: Uint8Array) => xxh64Reference(b).toString(16).padStart(16, "0");

Deno.test("uuidV5Hasher reproduces llama.cpp's namespace from NAMESPACE_URL", () => {
  // gguf-hash.cpp: uuid.uuid5(uuid.NAMESPACE_URL, 'en.wikipedia.org/wiki/Llama.cpp')
  const h = uuidV5Hasher("6ba7b811-9dad-11d1-80b4-00c04fd430c8");
  h.update(enc.encode("en.wikipedia.org/wiki/"));
  h.update(enc.encode("Llama.cpp"));
  assert.equal(h.hex(), "ef001206-dadc-5f6d-a15f-3359e577d4e5");
});

Deno.test("manifest: per-tensor sha256 and sha1 equal node:crypto over hfGguf byte ranges; line format of FORMATS.md §8", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { ggufPath } = await writeSmallGguf(`${dir}/small.gguf`);
    const bytes = await Deno.readFile(ggufPath);
    const ranges = await payloadRanges(ggufPath);
    const gguf = await openGguf(ggufPath);
    // Flags given in another order than gguf-hash prints them.
    const text = await ggufHashManifest(gguf, "small.gguf", ["uuid", "sha256", "sha1", "xxh64"]);
    gguf.close();

    const expected: string[] = [];
    const concat: Uint8Array[] = [];
    for (const r of ranges) {
      const payload = bytes.subarray(r.start, r.end);
      concat.push(payload);
      expected.push(`xxh64     ${refHex(payload)}  small.gguf:${r.name}`);
      expected.push(`sha1      ${digest("sha1", payload)}  small.gguf:${r.name}`);
      expected.push(`sha256    ${digest("sha256", payload)}  small.gguf:${r.name}`);
    }
    const all = new Uint8Array(concat.reduce((a, c) => a + c.length, 0));
    let o = 0;
    for (const c of concat) {
      all.set(c, o);
      o += c.length;
    }
    expected.push(`xxh64     ${refHex(all)}  small.gguf`);
    expected.push(`sha1      ${digest("sha1", all)}  small.gguf`);
    expected.push(`sha256    ${digest("sha256", all)}  small.gguf`);
    // UUIDv5 by hand: sha1(namespace bytes ‖ payloads), version 5, variant 0b10.
    const u = new Uint8Array(
      createHash("sha1")
        .update(
          Uint8Array.from([
            0xef,
            0x00,
            0x12,
            0x06,
            0xda,
            0xdc,
            0x5f,
            0x6d,
            0xa1,
            0x5f,
            0x33,
            0x59,
            0xe5,
            0x77,
            0xd4,
            0xe5,
          ]),
        )
        .update(all)
        .digest(),
    ).subarray(0, 16);
    u[6] = (u[6]! & 0x0f) | 0x50;
    u[8] = (u[8]! & 0x3f) | 0x80;
    const h = Array.from(u, (b) => b.toString(16).padStart(2, "0")).join("");
    expected.push(
      `uuid      ${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${
        h.slice(20)
      }  small.gguf`,
    );
    assert.deepEqual(text.split("\n"), [...expected, ""]);
    // printf("%-8s  %-s  %s\n"): algo padded to 8, two spaces, hex, two spaces, label.
    for (const l of text.trimEnd().split("\n")) {
      assert.match(
        l,
        /^(xxh64 {3}|sha1 {4}|sha256 {2}|uuid {4}) {2}[0-9a-f-]+ {2}small\.gguf(:[^\s]+)?$/,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hashGguf: one-pass file sha256 equals sha256 of the bytes; same digests as the per-tensor path", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { ggufPath } = await writeSmallGguf(`${dir}/small.gguf`);
    const bytes = await Deno.readFile(ggufPath);
    const gguf = await openGguf(ggufPath);
    const request = { tensor: ["sha256", "xxh64"] as const, model: ["sha256", "uuid"] as const };
    // Tiny chunks so that tensors straddle chunk boundaries.
    const onePass = await hashGguf(gguf, { ...request, file: true }, 7);
    const perTensor = await hashGguf(gguf, request, 5);
    gguf.close();
    assert.equal(onePass.fileSha256, digest("sha256", bytes));
    assert.deepEqual(onePass.tensors, perTensor.tensors);
    assert.deepEqual(onePass.model, perTensor.model);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hashGguf: tensor-info order differing from payload order still hashes in info order", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const w = new GgufWriter();
    w.addString("general.architecture", "llama");
    w.addTensorInfo("a", [16], GgmlType.F32);
    w.addTensorInfo("b", [16], GgmlType.F32);
    const chunks: Uint8Array[] = [];
    await w.write(
      { write: (c) => Promise.resolve(void chunks.push(c.slice())) },
      (_t, i) => bytesOf(64, 7 + i),
    );
    const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    chunks.reduce((o, c) => (bytes.set(c, o), o + c.length), 0);
    // Exchange the u64 offset fields of "a" and "b": a's payload now lies after b's.
    const view = new DataView(bytes.buffer);
    const offsetField = (name: string): number => {
      const nb = enc.encode(name);
      for (let i = 24; i < bytes.length - 8 - nb.length; i++) {
        if (view.getBigUint64(i, true) !== BigInt(nb.length)) continue;
        if (!nb.every((b, j) => bytes[i + 8 + j] === b)) continue;
        const nDims = view.getUint32(i + 8 + nb.length, true);
        if (nDims !== 1) continue;
        return i + 8 + nb.length + 4 + 8 * nDims + 4;
      }
      throw new Error(`no tensor info for ${name}`);
    };
    const fa = offsetField("a"), fb = offsetField("b");
    const oa = view.getBigUint64(fa, true), ob = view.getBigUint64(fb, true);
    view.setBigUint64(fa, ob, true);
    view.setBigUint64(fb, oa, true);
    const path = `${dir}/swapped.gguf`;
    await Deno.writeFile(path, bytes);

    const ranges = await payloadRanges(path);
    assert.deepEqual(ranges.map((r) => r.name), ["a", "b"]);
    assert.ok(ranges[0]!.start > ranges[1]!.start, "test setup: a now lies after b");
    const pa = bytes.subarray(ranges[0]!.start, ranges[0]!.end);
    const pb = bytes.subarray(ranges[1]!.start, ranges[1]!.end);
    const gguf = await openGguf(path);
    const h = await hashGguf(gguf, { tensor: ["sha256"], model: ["sha256"], file: true });
    gguf.close();
    assert.equal(h.tensors[0]!.hex.sha256, digest("sha256", pa));
    assert.equal(h.tensors[1]!.hex.sha256, digest("sha256", pb));
    assert.equal(h.model.sha256, createHash("sha256").update(pa).update(pb).digest("hex"));
    assert.equal(h.fileSha256, digest("sha256", bytes));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseGgufHashAlgos and parseGgufHashManifest", () => {
  assert.deepEqual(parseGgufHashAlgos("sha256, xxh64"), ["xxh64", "sha256"]);
  assert.throws(() => parseGgufHashAlgos("xxh3"), UsageError);
  assert.deepEqual(
    parseGgufHashManifest("xxh64     0011223344556677  m.gguf:a\n\nsha256    AB  m.gguf\n", "m"),
    [
      { algo: "xxh64", hex: "0011223344556677", label: "m.gguf:a", line: 1 },
      { algo: "sha256", hex: "ab", label: "m.gguf", line: 3 },
    ],
  );
  assert.throws(() => parseGgufHashManifest("xxh64 0011\n", "m.gguf-hash"), FormatError);
});

Deno.test("formatGgufHashManifest refuses to print a digest it was not given", () => {
  assert.throws(
    () =>
      formatGgufHashManifest({ tensors: [{ name: "a", hex: {} }], model: {} }, "m.gguf", ["sha1"]),
    RangeError,
  );
});
