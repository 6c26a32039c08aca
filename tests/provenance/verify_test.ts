import assert from "node:assert/strict";
import { InputError, VerifyError } from "../../lib/errors.ts";
import { openGguf } from "../../lib/gguf/reader.ts";
import { ggufHashManifest } from "../../lib/provenance/gguf_hash.ts";
import { generateKeyFiles, loadKey, signGguf } from "../../lib/provenance/signature.ts";
import {
  assertVerified,
  formatVerifyReport,
  verifyGguf,
  type VerifyReport,
} from "../../lib/provenance/verify.ts";
import { digest, flipByte, payloadRanges, writeCompanions, writeSmallGguf } from "./_fixtures.ts";

interface Setup {
  dir: string;
  gguf: string;
  stem: string;
  names: string[];
}

async function setup(withManifest = true): Promise<Setup> {
  const dir = await Deno.makeTempDir();
  const { ggufPath, names } = await writeSmallGguf(`${dir}/small.gguf`);
  await writeCompanions(ggufPath);
  if (withManifest) {
    const g = await openGguf(ggufPath);
    await Deno.writeTextFile(
      `${dir}/small.gguf-hash`,
      await ggufHashManifest(g, "small.gguf", ["xxh64", "sha256"]),
    );
    g.close();
  }
  return { dir, gguf: ggufPath, stem: `${dir}/small`, names };
}

function mismatchesOf(r: VerifyReport, name: string): readonly string[] {
  return r.checks.find((c) => c.name === name)!.mismatches;
}

function statusOf(r: VerifyReport): Record<string, string> {
  return Object.fromEntries(r.checks.map((c) => [c.name, c.status]));
}

Deno.test("verifyGguf: an untouched file passes every check; fileSha256 is the sha256 of the file", async () => {
  const s = await setup();
  try {
    const r = await verifyGguf({ ggufPath: s.gguf });
    assert.deepEqual(statusOf(r), {
      fingerprint: "ok",
      "meta.json": "ok",
      manifest: "ok",
      signature: "skipped",
    });
    assert.equal(r.ok, true);
    assert.equal(r.fileSha256, digest("sha256", await Deno.readFile(s.gguf)));
    assertVerified(r);
    assert.equal(r.signature, "absent");
    // Not signed: the report says so, and never "verified".
    const text = formatVerifyReport(r);
    assert.match(text, /\nnot signed: the GGUF matches its companions; \d+ claims .*\n$/);
    assert.doesNotMatch(text, /\bverified\b/);
    // What the small file's meta.json claims beyond its contents, nothing more.
    assert.deepEqual(r.claims.map((c) => c.field).sort(), [
      "options",
      "sources",
      "tensors[*].action",
      "tensors[*].hf_name",
      "tensors[*].source_dtype",
      "tool",
      "warnings",
    ]);
  } finally {
    await Deno.remove(s.dir, { recursive: true });
  }
});

Deno.test("verifyGguf: one flipped payload byte is named in the fingerprint, meta.json and manifest", async () => {
  const s = await setup();
  try {
    const ranges = await payloadRanges(s.gguf);
    const target = ranges.find((r) => r.name === "blk.0.attn_q.weight")!;
    await flipByte(s.gguf, target.start + 5);
    const r = await verifyGguf({ ggufPath: s.gguf });
    assert.equal(r.ok, false);
    assert.deepEqual(statusOf(r), {
      fingerprint: "failed",
      "meta.json": "failed",
      manifest: "failed",
      signature: "skipped",
    });
    assert.equal(mismatchesOf(r, "fingerprint").length, 1);
    assert.match(mismatchesOf(r, "fingerprint")[0]!, /small\.fingerprint: records sha256/);
    // meta.json: the tensor (its xxh64, and its statistics where the byte moved them), and the
    // recorded whole-file fingerprint; no other tensor.
    const meta = mismatchesOf(r, "meta.json");
    assert.equal(meta.filter((m) => m.includes("tensor blk.0.attn_q.weight: xxh64")).length, 1);
    const tensorLines = meta.filter((m) => m.includes("tensor "));
    assert.ok(
      tensorLines.every((m) => m.includes("tensor blk.0.attn_q.weight: ")),
      meta.join("\n"),
    );
    assert.ok(meta.some((m) => m.includes(`"fingerprint"`)));
    // manifest: the tensor's xxh64 and sha256 lines, and both whole-model lines.
    const man = mismatchesOf(r, "manifest");
    assert.equal(
      man.filter((m) => /tensor blk\.0\.attn_q\.weight: (xxh64|sha256)/.test(m)).length,
      2,
    );
    assert.equal(man.filter((m) => /whole-model (xxh64|sha256)/.test(m)).length, 2);
    assert.equal(man.length, 4, man.join("\n"));
    // 1 fingerprint + meta.json's + 4 manifest, all in one error.
    const total = 1 + meta.length + 4;
    assert.throws(
      () => assertVerified(r),
      (e) =>
        e instanceof VerifyError && e.exitCode === 19 &&
        e.message.includes(`${total} mismatches`) && /blk\.0\.attn_q\.weight/.test(e.message),
    );
  } finally {
    await Deno.remove(s.dir, { recursive: true });
  }
});

Deno.test("verifyGguf: an edited meta.json is named; extra and missing tensors too", async () => {
  const s = await setup();
  try {
    const meta = JSON.parse(await Deno.readTextFile(`${s.stem}.meta.json`));
    meta.tensors[1].xxh64 = "0".repeat(16);
    meta.tensors.push({ ...meta.tensors[3], gguf_name: "blk.9.ghost.weight" });
    meta.tensors.splice(0, 1); // drop token_embd.weight
    await Deno.writeTextFile(`${s.stem}.meta.json`, JSON.stringify(meta, null, 1));
    const r = await verifyGguf({ ggufPath: s.gguf });
    assert.deepEqual(statusOf(r), {
      fingerprint: "ok",
      "meta.json": "failed",
      manifest: "ok",
      signature: "skipped",
    });
    const m = mismatchesOf(r, "meta.json");
    assert.equal(m.length, 3, m.join("\n"));
    assert.ok(
      m.some((x) => x.includes(`tensor blk.0.attn_norm.weight: xxh64 ${"0".repeat(16)} recorded`)),
    );
    assert.ok(
      m.some((x) => x.includes("tensor blk.9.ghost.weight is listed but is not in")),
      m.join("\n"),
    );
    assert.ok(
      m.some((x) => x.includes("tensor token_embd.weight of") && x.endsWith("is not listed")),
    );

    await Deno.writeTextFile(`${s.stem}.meta.json`, "{ not json");
    const broken = await verifyGguf({ ggufPath: s.gguf });
    assert.match(mismatchesOf(broken, "meta.json")[0]!, /not JSON/);
  } finally {
    await Deno.remove(s.dir, { recursive: true });
  }
});

Deno.test("verifyGguf: a meta.json that records per-tensor sha256 (written before xxh64) still verifies, and a changed one fails", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { ggufPath } = await writeSmallGguf(`${dir}/small.gguf`);
    await writeCompanions(ggufPath, "sha256");
    const r = await verifyGguf({ ggufPath });
    assert.equal(statusOf(r)["meta.json"], "ok", mismatchesOf(r, "meta.json").join("\n"));
    const meta = JSON.parse(await Deno.readTextFile(`${dir}/small.meta.json`));
    meta.tensors[1].sha256 = "0".repeat(64);
    await Deno.writeTextFile(`${dir}/small.meta.json`, JSON.stringify(meta, null, 2) + "\n");
    const m = mismatchesOf(await verifyGguf({ ggufPath }), "meta.json");
    assert.ok(m.some((x) => x.includes(`: sha256 ${"0".repeat(64)} recorded`)), m.join("\n"));
    delete meta.tensors[1].sha256;
    await Deno.writeTextFile(`${dir}/small.meta.json`, JSON.stringify(meta, null, 2) + "\n");
    const none = mismatchesOf(await verifyGguf({ ggufPath }), "meta.json");
    assert.ok(none.some((x) => x.includes("no payload digest recorded")), none.join("\n"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("verifyGguf: manifest lines for unknown tensors, missing tensor lines and unknown algorithms", async () => {
  const s = await setup();
  try {
    const text = await Deno.readTextFile(`${s.stem}.gguf-hash`);
    const lines = text.trimEnd().split("\n");
    const edited = [
      ...lines.filter((l) => !l.includes(":output_norm.weight")), // drop its two lines
      `xxh64     0011223344556677  small.gguf:blk.7.ghost.weight`,
      `xxh3      0011223344556677  small.gguf`,
    ];
    await Deno.writeTextFile(`${s.stem}.gguf-hash`, edited.join("\n") + "\n");
    const r = await verifyGguf({ ggufPath: s.gguf });
    const m = mismatchesOf(r, "manifest");
    assert.ok(m.some((x) => x.includes("tensor blk.7.ghost.weight is not in")), m.join("\n"));
    assert.ok(m.some((x) => x.includes("tensor output_norm.weight has no xxh64 line")));
    assert.ok(m.some((x) => x.includes("tensor output_norm.weight has no sha256 line")));
    // An algorithm gguf-hash does not write cannot be checked, so it is a failure, not a note.
    assert.ok(m.some((x) => x.includes("line 10: unknown algorithm xxh3")), m.join("\n"));
    assert.equal(m.length, 4, m.join("\n"));

    // A manifest written by gguf-hash with a path label and --no-layer (model lines only).
    const g = await openGguf(s.gguf);
    const full = await ggufHashManifest(g, "/some/where/small.gguf", ["sha1", "uuid"]);
    g.close();
    const modelOnly = full.split("\n").filter((l) => l.length > 0 && !l.includes("small.gguf:"))
      .join("\n");
    await Deno.writeTextFile(`${s.dir}/other.txt`, modelOnly + "\n");
    const r2 = await verifyGguf({ ggufPath: s.gguf, manifestPath: `${s.dir}/other.txt` });
    assert.equal(statusOf(r2).manifest, "ok");
    assert.match(r2.checks.find((c) => c.name === "manifest")!.detail, /^2 lines checked/);
  } finally {
    await Deno.remove(s.dir, { recursive: true });
  }
});

Deno.test("verifyGguf: missing companions are skipped, none at all fails, explicit missing paths are input errors", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { ggufPath } = await writeSmallGguf(`${dir}/bare.gguf`);
    const r = await verifyGguf({ ggufPath });
    assert.equal(r.ok, false);
    assert.deepEqual(Object.values(statusOf(r)), ["skipped", "skipped", "skipped", "skipped"]);
    assert.throws(
      () => assertVerified(r),
      (e) => e instanceof VerifyError && /nothing to verify/.test(e.message),
    );
    await assert.rejects(
      () => verifyGguf({ ggufPath, manifestPath: `${dir}/nope.gguf-hash` }),
      InputError,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("signatures: sign, verify, wrong key, edited meta.json, flipped byte, missing signature", async () => {
  const s = await setup();
  try {
    await generateKeyFiles(`${s.dir}/k.pem`, `${s.dir}/k.pub`);
    await generateKeyFiles(`${s.dir}/other.pem`, `${s.dir}/other.pub`);
    const pk = await loadKey(`${s.dir}/k.pub`, "public");

    const none = await verifyGguf({ ggufPath: s.gguf, publicKey: pk });
    assert.match(mismatchesOf(none, "signature")[0]!, /no signature file/);

    const signed = await signGguf({
      ggufPath: s.gguf,
      privateKey: await loadKey(`${s.dir}/k.pem`, "private"),
    });
    assert.equal(signed.signaturePath, `${s.stem}.sig`);
    assert.equal(signed.metaSha256, digest("sha256", await Deno.readFile(`${s.stem}.meta.json`)));
    const good = await verifyGguf({ ggufPath: s.gguf, publicKey: pk });
    assert.equal(good.ok, true, formatVerifyReport(good));
    assert.equal(statusOf(good).signature, "ok");
    const unchecked = await verifyGguf({ ggufPath: s.gguf });
    assert.match(
      unchecked.checks.find((c) => c.name === "signature")!.detail,
      /present, signature not checked/,
    );

    const wrong = await verifyGguf({
      ggufPath: s.gguf,
      publicKey: await loadKey(`${s.dir}/other.pub`, "public"),
    });
    assert.deepEqual(statusOf(wrong), {
      fingerprint: "ok",
      "meta.json": "ok",
      manifest: "ok",
      signature: "failed",
    });
    assert.match(mismatchesOf(wrong, "signature")[0]!, /signed with another key/);

    // A whitespace-only edit keeps every tensor hash but changes the signed bytes.
    const metaText = await Deno.readTextFile(`${s.stem}.meta.json`);
    await Deno.writeTextFile(`${s.stem}.meta.json`, metaText + " ");
    const edited = await verifyGguf({ ggufPath: s.gguf, publicKey: pk });
    assert.deepEqual(statusOf(edited), {
      fingerprint: "ok",
      "meta.json": "ok",
      manifest: "ok",
      signature: "failed",
    });
    await Deno.writeTextFile(`${s.stem}.meta.json`, metaText);

    const ranges = await payloadRanges(s.gguf);
    await flipByte(s.gguf, ranges[3]!.start);
    const flipped = await verifyGguf({ ggufPath: s.gguf, publicKey: pk });
    assert.equal(statusOf(flipped).signature, "failed");
    assert.ok(
      mismatchesOf(flipped, "meta.json").some((m) => m.includes(`tensor ${ranges[3]!.name}:`)),
    );
    // Signing now is refused: the file no longer matches its fingerprint.
    await assert.rejects(
      () => signGguf({ ggufPath: s.gguf, privateKey: pk }),
      (e) => e instanceof VerifyError && /refusing to sign/.test(e.message),
    );
  } finally {
    await Deno.remove(s.dir, { recursive: true });
  }
});
