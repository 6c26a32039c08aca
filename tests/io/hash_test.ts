import assert from "node:assert/strict";
import { join } from "node:path";
import { InputError } from "../../lib/errors.ts";
import { sha256File, sha256Hex } from "../../lib/io/hash.ts";

// Known digests: FIPS 180-2 examples ("abc", one million "a") and `sha256sum` / Python hashlib.
const ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const MILLION_A = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
/** hashlib.sha256(bytes(i*7 & 255 for i in range(3*1048576+5))): spans several 1 MiB chunks. */
const PATTERN = "41fbed9f0d5d1683eb3c1727486c0baf37666b085228ba7ea57e041d65994e28";
/** `sha256sum fixtures/tiny-bitnet/model.safetensors` */
const FIXTURE = "5f7ef795485a6d377540256de08208dd3619a9a3cf473c031365c534606e27f7";

const pattern = () => Uint8Array.from({ length: 3 * 1048576 + 5 }, (_, i) => (i * 7) & 255);

Deno.test("sha256Hex: known digests", () => {
  assert.equal(sha256Hex(new TextEncoder().encode("abc")), ABC);
  assert.equal(sha256Hex(new Uint8Array(0)), EMPTY);
  assert.equal(sha256Hex(new Uint8Array(1_000_000).fill(0x61)), MILLION_A);
  const big = pattern();
  assert.equal(sha256Hex(big), PATTERN);
  // a view hashes only its own bytes
  const padded = new Uint8Array(10);
  padded.set(new TextEncoder().encode("abc"), 4);
  assert.equal(sha256Hex(padded.subarray(4, 7)), ABC);
});

Deno.test("sha256File: streamed digests match sha256sum", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hash_test_" });
  try {
    await Deno.writeTextFile(join(dir, "abc.txt"), "abc");
    await Deno.writeFile(join(dir, "empty"), new Uint8Array(0));
    await Deno.writeFile(join(dir, "pattern.bin"), pattern());
    assert.equal(await sha256File(join(dir, "abc.txt")), ABC);
    assert.equal(await sha256File(join(dir, "empty")), EMPTY);
    assert.equal(await sha256File(join(dir, "pattern.bin")), PATTERN);
    assert.equal(await sha256File("fixtures/tiny-bitnet/model.safetensors"), FIXTURE);
    await assert.rejects(sha256File(join(dir, "missing")), (e: unknown) => {
      assert.ok(e instanceof InputError);
      assert.ok(e.message.includes(join(dir, "missing")));
      return true;
    });
    await assert.rejects(sha256File(dir), InputError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
