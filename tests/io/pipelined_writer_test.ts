/**
 * PipelinedWriter: the file holds exactly the bytes written, in order, and its
 * sha256 (computed in a worker as they are written) is node:crypto's over the
 * file, whatever the chunk sizes against the slot size; a caller may reuse its
 * chunk at once; a folder that cannot be written is an OutputError.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { OutputError } from "../../lib/errors.ts";
import { PipelinedWriter } from "../../lib/io/pipelined_writer.ts";
import { FuzzRng } from "../_fuzz.ts";

Deno.test("PipelinedWriter: bytes and sha256 as written, chunks smaller, equal and larger than a slot", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const [slots, slotBytes] of [[2, 64], [3, 1000], [4, 1 << 16]] as const) {
      const path = `${dir}/out-${slots}-${slotBytes}.bin`;
      const w = await PipelinedWriter.open(path, { slots, slotBytes });
      const rng = new FuzzRng(slotBytes);
      const parts: Uint8Array[] = [];
      const chunk = new Uint8Array(3 * slotBytes + 5); // reused for every write
      for (let i = 0; i < 200; i++) {
        const n = rng.u32() % chunk.length;
        for (let j = 0; j < n; j++) chunk[j] = rng.u32() & 0xff;
        const part = chunk.subarray(0, n);
        parts.push(part.slice());
        await w.write(part);
      }
      const r = await w.finish();
      const expected = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
      parts.reduce((o, p) => (expected.set(p, o), o + p.length), 0);
      const bytes = await Deno.readFile(path);
      assert.deepEqual(bytes, expected);
      assert.equal(r.bytes, expected.length);
      assert.equal(r.sha256, createHash("sha256").update(bytes).digest("hex"));
      await assert.rejects(() => w.write(new Uint8Array(1)), OutputError);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("PipelinedWriter: an empty file hashes to sha256 of nothing; a missing folder is an OutputError", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const w = await PipelinedWriter.open(`${dir}/empty.bin`);
    const r = await w.finish();
    assert.equal(r.bytes, 0);
    assert.equal(r.sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    await assert.rejects(() => PipelinedWriter.open(`${dir}/no/such/out.bin`), OutputError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
