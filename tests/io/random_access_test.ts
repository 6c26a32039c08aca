import assert from "node:assert/strict";
import { RandomAccessFile } from "../../lib/io/random_access.ts";
import { FormatError, InputError } from "../../lib/errors.ts";

const PATH = "fixtures/tiny-bitnet/model.safetensors";

Deno.test("RandomAccessFile: concurrent reads on one file each get their own bytes", async () => {
  const whole = await Deno.readFile(PATH);
  const f = await RandomAccessFile.open(PATH);
  try {
    const reads = await Promise.all(
      Array.from({ length: 50 }, (_, i) => f.readAt(i * 1000 + 7, 5000)),
    );
    reads.forEach((r, i) =>
      assert.deepEqual(r, whole.subarray(i * 1000 + 7, i * 1000 + 5007), `read ${i}`)
    );
  } finally {
    f.close();
  }
});

Deno.test("RandomAccessFile: ranges past the end and missing files are clear errors", async () => {
  await assert.rejects(RandomAccessFile.open("fixtures/nope.bin"), InputError);
  const f = await RandomAccessFile.open(PATH);
  try {
    await assert.rejects(
      f.readAt(f.size - 4, 8, "tail"),
      (e: Error) => e instanceof FormatError && /tail at offset/.test(e.message),
    );
    assert.throws(() => f.checkRange(-1, 1, "x"), FormatError);
    const chunks: number[] = [];
    for await (const c of f.stream(0, 10_000, 4096)) chunks.push(c.length);
    assert.deepEqual(chunks, [4096, 4096, 1808]);
  } finally {
    f.close();
  }
});
