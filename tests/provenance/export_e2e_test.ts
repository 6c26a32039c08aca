/**
 * End to end on the exported fixture: the gguf-hash manifest against hashes
 * computed independently (node:crypto over byte ranges found with hfGguf),
 * and model-verify / model-sign as a user runs them.
 */
import assert from "node:assert/strict";
import { exportCleanGguf } from "../../lib/export/export.ts";
import { openGguf } from "../../lib/gguf/reader.ts";
import { ggufHashManifest, xxh64Hex } from "../../lib/provenance/gguf_hash.ts";
import { digest, flipByte, payloadRanges, runTask } from "./_fixtures.ts";

const VERIFY = "tasks/verify_gguf.ts";
const SIGN = "tasks/sign_gguf.ts";

Deno.test("exported fixture: manifest, verify, sign; a flipped byte, an edited meta.json and a wrong key fail with 19", async () => {
  const outDir = await Deno.makeTempDir();
  try {
    const r = await exportCleanGguf({
      modelDir: "fixtures/tiny-bitnet",
      tokenizerPath: "fixtures/tiny-bitnet/tokenizer.json",
      outDir,
      quiet: true,
    });
    const name = r.ggufPath.split("/").pop()!;
    const stem = r.ggufPath.replace(/\.gguf$/, "");
    const manifestPath = `${stem}.gguf-hash`;
    // The exporter may write the manifest itself; otherwise write it as it would.
    if (await Deno.stat(manifestPath).then(() => false, () => true)) {
      const g = await openGguf(r.ggufPath);
      await Deno.writeTextFile(manifestPath, await ggufHashManifest(g, name, ["xxh64", "sha256"]));
      g.close();
    }

    // Independent expectation, line for line (FORMATS.md §8, gguf-hash.cpp order).
    const bytes = await Deno.readFile(r.ggufPath);
    const ranges = await payloadRanges(r.ggufPath);
    assert.equal(ranges.length, r.meta.tensors.length);
    const expected: string[] = [];
    const payloads = ranges.map((x) => bytes.subarray(x.start, x.end));
    ranges.forEach((x, i) => {
      expected.push(`xxh64     @${i}  ${name}:${x.name}`);
      expected.push(`sha256    ${digest("sha256", payloads[i]!)}  ${name}:${x.name}`);
    });
    const all = new Uint8Array(payloads.reduce((n, p) => n + p.length, 0));
    payloads.reduce((o, p) => (all.set(p, o), o + p.length), 0);
    expected.push(`xxh64     ${await xxh64Hex(all)}  ${name}`);
    expected.push(`sha256    ${digest("sha256", all)}  ${name}`);
    for (let i = 0; i < ranges.length; i++) {
      expected[2 * i] = expected[2 * i]!.replace(`@${i}`, await xxh64Hex(payloads[i]!));
    }
    assert.deepEqual((await Deno.readTextFile(manifestPath)).split("\n"), [...expected, ""]);
    // The fingerprint is sha256sum of the file; meta.json's per-tensor sha256 agree too.
    assert.equal(await Deno.readTextFile(r.fingerprintPath), `sha256-${digest("sha256", bytes)}\n`);
    for (const [i, t] of r.meta.tensors.entries()) {
      assert.equal(t.gguf_name, ranges[i]!.name);
      assert.equal(t.sha256, digest("sha256", payloads[i]!));
    }

    let res = await runTask(SIGN, ["--generate-key", "--key", `${outDir}/k.pem`]);
    assert.equal(res.code, 0, res.stderr);
    res = await runTask(SIGN, ["--generate-key", "--key", `${outDir}/other.pem`]);
    assert.equal(res.code, 0, res.stderr);
    res = await runTask(SIGN, [r.ggufPath, "--key", `${outDir}/k.pem`]);
    assert.equal(res.code, 0, res.stderr);

    res = await runTask(VERIFY, [r.ggufPath, "--pubkey", `${outDir}/k.pem.pub`]);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.match(res.stdout, /ok +fingerprint/);
    assert.match(res.stdout, /ok +meta\.json/);
    assert.match(res.stdout, /ok +manifest/);
    assert.match(res.stdout, /ok +signature/);

    res = await runTask(VERIFY, [r.ggufPath, "--pubkey", `${outDir}/other.pem.pub`]);
    assert.equal(res.code, 19);
    assert.match(res.stderr, /signed with another key/);

    const metaText = await Deno.readTextFile(r.metaPath);
    await Deno.writeTextFile(r.metaPath, metaText.replace(/"rms": ([0-9.e-]+)/, `"rms": 1234`));
    res = await runTask(VERIFY, [r.ggufPath, "--pubkey", `${outDir}/k.pem.pub`]);
    assert.equal(res.code, 19);
    assert.match(res.stderr, /the signature does not match the GGUF's fingerprint and meta\.json/);
    const meta = JSON.parse(metaText);
    const victim = meta.tensors[5].gguf_name as string;
    meta.tensors[5].sha256 = "0".repeat(64);
    await Deno.writeTextFile(r.metaPath, JSON.stringify(meta, null, 2) + "\n");
    res = await runTask(VERIFY, [r.ggufPath]);
    assert.equal(res.code, 19);
    assert.match(
      res.stderr,
      new RegExp(`meta\\.json: tensor ${victim.replaceAll(".", "\\.")}: sha256 0{64} recorded`),
    );
    await Deno.writeTextFile(r.metaPath, metaText);

    const target = ranges.find((x) => x.name === "blk.2.ffn_down.weight") ??
      ranges[ranges.length - 1]!;
    await flipByte(r.ggufPath, target.start + 17);
    res = await runTask(VERIFY, [r.ggufPath, "--pubkey", `${outDir}/k.pem.pub`]);
    assert.equal(res.code, 19);
    const escaped = target.name.replaceAll(".", "\\.");
    assert.match(res.stderr, new RegExp(`meta\\.json: tensor ${escaped}: sha256`));
    assert.match(res.stderr, new RegExp(`gguf-hash line \\d+: tensor ${escaped}: xxh64`));
    assert.match(res.stderr, new RegExp(`gguf-hash line \\d+: tensor ${escaped}: sha256`));
    assert.match(res.stderr, /fingerprint: records sha256/);
    assert.match(res.stderr, /\.sig: the signature does not match/);
    // Only the flipped tensor is named among the tensors.
    const named = new Set([...res.stderr.matchAll(/tensor (\S+?):/g)].map((m) => m[1]));
    assert.deepEqual([...named], [target.name]);
  } finally {
    await Deno.remove(outDir, { recursive: true });
  }
});
