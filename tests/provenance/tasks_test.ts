/** model-verify and model-sign as a user runs them: subprocesses, narrow permissions, exit codes. */
import assert from "node:assert/strict";
import { openGguf } from "../../lib/gguf/reader.ts";
import { ggufHashManifest } from "../../lib/provenance/gguf_hash.ts";
import { flipByte, payloadRanges, runTask, writeCompanions, writeSmallGguf } from "./_fixtures.ts";

const VERIFY = "tasks/verify_gguf.ts";
const SIGN = "tasks/sign_gguf.ts";

Deno.test("model-sign / model-verify: generate a key, sign, verify (0), wrong key (19), flipped byte (19), edited meta (19)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { ggufPath } = await writeSmallGguf(`${dir}/small.gguf`);
    await writeCompanions(ggufPath);
    const g = await openGguf(ggufPath);
    await Deno.writeTextFile(
      `${dir}/small.gguf-hash`,
      await ggufHashManifest(g, "small.gguf", ["xxh64", "sha256"]),
    );
    g.close();

    let r = await runTask(SIGN, ["--generate-key", "--key", `${dir}/k.pem`]);
    assert.equal(r.code, 0, r.stderr);
    r = await runTask(SIGN, [
      "--generate-key",
      "--key",
      `${dir}/other.pem`,
      "--pubkey",
      `${dir}/other.pub`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    r = await runTask(SIGN, ["--generate-key", "--key", `${dir}/k.pem`]);
    assert.equal(r.code, 8, "refuses to overwrite a key");

    r = await runTask(SIGN, [ggufPath, "--key", `${dir}/k.pem`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /small\.sig/);

    r = await runTask(VERIFY, [ggufPath, "--pubkey", `${dir}/k.pem.pub`]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /\nverified: the GGUF matches every recomputable field and the checked signature covers the rest\n$/,
    );

    r = await runTask(VERIFY, [ggufPath, "--pubkey", `${dir}/other.pub`]);
    assert.equal(r.code, 19);
    assert.match(r.stderr, /small\.sig: signed with another key/);

    const metaPath = `${dir}/small.meta.json`;
    const metaText = await Deno.readTextFile(metaPath);
    const meta = JSON.parse(metaText);
    meta.tensors[2].xxh64 = "f".repeat(16);
    await Deno.writeTextFile(metaPath, JSON.stringify(meta, null, 2) + "\n");
    r = await runTask(VERIFY, [ggufPath, "--pubkey", `${dir}/k.pem.pub`]);
    assert.equal(r.code, 19);
    assert.match(
      r.stderr,
      /small\.meta\.json: tensor blk\.0\.attn_q\.weight: xxh64 f{16} recorded/,
    );
    assert.match(r.stderr, /small\.sig: the signature does not match/);
    await Deno.writeTextFile(metaPath, metaText);

    const ranges = await payloadRanges(ggufPath);
    await flipByte(ggufPath, ranges[0]!.start + 100);
    r = await runTask(VERIFY, [ggufPath]);
    assert.equal(r.code, 19);
    assert.match(r.stderr, /small\.meta\.json: tensor token_embd\.weight: xxh64/);
    assert.match(r.stderr, /small\.gguf-hash line 1: tensor token_embd\.weight: xxh64/);
    r = await runTask(SIGN, [ggufPath, "--key", `${dir}/k.pem`]);
    assert.equal(r.code, 19, "refuses to sign a file that fails verification");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("model-verify --gguf-hash prints the manifest with the path as given; usage errors exit 2", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { ggufPath } = await writeSmallGguf(`${dir}/small.gguf`);
    const g = await openGguf(ggufPath);
    const expected = await ggufHashManifest(g, ggufPath, ["xxh64", "sha1"]);
    g.close();
    let r = await runTask(VERIFY, [ggufPath, "--gguf-hash", "--algos", "sha1,xxh64"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, expected);
    r = await runTask(VERIFY, [ggufPath, "--gguf-hash", "--algos", "xxh3"]);
    assert.equal(r.code, 2);
    r = await runTask(VERIFY, []);
    assert.equal(r.code, 2);
    r = await runTask(VERIFY, [`${dir}/missing.gguf`]);
    assert.equal(r.code, 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
