import assert from "node:assert/strict";
import { join } from "node:path";
import { FormatError, InputError } from "../../lib/errors.ts";
import { isJsonObject, readJsonFile, readJsonIfExists } from "../../lib/io/json.ts";

Deno.test("isJsonObject: objects only, not arrays, null or scalars", () => {
  assert.deepEqual([{}, { a: 1 }].map(isJsonObject), [true, true]);
  assert.deepEqual([[], null, undefined, 1, "x", true].map(isJsonObject), [
    false,
    false,
    false,
    false,
    false,
    false,
  ]);
});

Deno.test("readJsonIfExists: absent → undefined, present → its object, not an object → FormatError", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.deepEqual(await readJsonIfExists(join(dir, "missing.json")), undefined);
    await Deno.writeTextFile(join(dir, "a.json"), '{"k": [1, 2]}');
    assert.deepEqual(await readJsonIfExists(join(dir, "a.json")), { k: [1, 2] });
    await Deno.writeTextFile(join(dir, "list.json"), "[1]");
    await assert.rejects(
      readJsonIfExists(join(dir, "list.json")),
      (e) => e instanceof FormatError && e.message.includes("list.json"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readJsonIfExists: a failure other than absence is reported, not taken for absence", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // A path through a regular file fails with ENOTDIR, not NotFound.
    await Deno.writeTextFile(join(dir, "file"), "{}");
    const path = join(dir, "file", "tokenizer_config.json");
    await assert.rejects(
      readJsonIfExists(path),
      (e) => e instanceof InputError && e.message.includes(path),
    );
    await assert.rejects(
      readJsonFile(join(dir, "missing.json")),
      (e) => e instanceof InputError && e.message.includes("missing.json"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
