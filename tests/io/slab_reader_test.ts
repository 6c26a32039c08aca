/**
 * The quantizer's synchronous slab reads (lib/io/slab_reader.ts): the
 * bytes at any offset are the file's (compared with the bytes written), a
 * file whose size changed since it was parsed is refused, and a read past
 * the end is a typed error.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { SlabReader } from "../../lib/io/slab_reader.ts";
import { FormatError, InputError } from "../../lib/errors.ts";
import { FuzzRng } from "../_fuzz.ts";

Deno.test("slab reader: bytes at any offset, a changed size refused, no read past the end", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const rng = new FuzzRng(4);
    const bytes = new Uint8Array(300_000).map(() => rng.int(256));
    const path = join(dir, "input.bin");
    await Deno.writeFile(path, bytes);
    assert.throws(() => SlabReader.open(path, bytes.length - 1), InputError);
    const reader = SlabReader.open(path, bytes.length);
    try {
      for (const [offset, length] of [[0, 10], [299_990, 10], [1234, 262_144], [5, 0]]) {
        const got = reader.readInto(offset!, new Uint8Array(length!), "range");
        assert.deepEqual(got, bytes.subarray(offset!, offset! + length!), `bytes at ${offset}`);
      }
      assert.throws(
        () => reader.readInto(299_990, new Uint8Array(20), "past the end"),
        FormatError,
      );
    } finally {
      reader.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
