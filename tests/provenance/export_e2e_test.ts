/**
 * End to end on the exported fixture: the gguf-hash manifest against hashes
 * computed independently (node:crypto and xxhash-wasm over byte ranges found
 * with hfGguf),
 * and model-verify / model-sign as a user runs them.
 */
import assert from "node:assert/strict";
import { exportCleanGguf } from "../../lib/export/export.ts";
import { xxhashWasm } from "../../deps.ts";
import type { GgufHashAlgo } from "../../lib/provenance/gguf_hash.ts";
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

    // Independent expectation, line for line (FORMATS.md §8, gguf-hash.cpp order), with
    // xxhash-wasm (another implementation than ours): by default xxh64 alone, as
    // llama-gguf-hash prints it without options.
    const xxh = await xxhashWasm();
    const hex = (b: Uint8Array) => xxh.h64Raw(b, 0n).toString(16).padStart(16, "0");
    const bytes = await Deno.readFile(r.ggufPath);
    const ranges = await payloadRanges(r.ggufPath);
    assert.equal(ranges.length, r.meta.tensors.length);
    const payloads = ranges.map((x) => bytes.subarray(x.start, x.end));
    const all = new Uint8Array(payloads.reduce((n, p) => n + p.length, 0));
    payloads.reduce((o, p) => (all.set(p, o), o + p.length), 0);
    const expected = [
      ...ranges.map((x, i) => `xxh64     ${hex(payloads[i]!)}  ${name}:${x.name}`),
      `xxh64     ${hex(all)}  ${name}`,
    ];
    assert.deepEqual((await Deno.readTextFile(manifestPath)).split("\n"), [...expected, ""]);
    // The fingerprint is sha256sum of the file; meta.json's per-tensor xxh64 agree too.
    assert.equal(await Deno.readTextFile(r.fingerprintPath), `sha256-${digest("sha256", bytes)}\n`);
    for (const [i, t] of r.meta.tensors.entries()) {
      assert.equal(t.gguf_name, ranges[i]!.name);
      assert.equal(t.xxh64, hex(payloads[i]!));
      assert.equal(t.sha256, undefined);
    }

    // --manifest sha256,xxh64: sha256 lines after each xxh64 line, and for the model; the GGUF
    // and meta.json are the same bytes.
    const withSha = await exportCleanGguf({
      modelDir: "fixtures/tiny-bitnet",
      outDir: `${outDir}/sha`,
      quiet: true,
      manifest: ["sha256", "xxh64"],
    });
    assert.deepEqual(await Deno.readFile(withSha.ggufPath), bytes);
    assert.equal(await Deno.readTextFile(withSha.metaPath), await Deno.readTextFile(r.metaPath));
    const both = [
      ...ranges.flatMap((x, i) => [
        `xxh64     ${hex(payloads[i]!)}  ${name}:${x.name}`,
        `sha256    ${digest("sha256", payloads[i]!)}  ${name}:${x.name}`,
      ]),
      `xxh64     ${hex(all)}  ${name}`,
      `sha256    ${digest("sha256", all)}  ${name}`,
    ];
    assert.deepEqual((await Deno.readTextFile(withSha.manifestPath)).split("\n"), [...both, ""]);

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
    meta.tensors[5].xxh64 = "0".repeat(16);
    await Deno.writeTextFile(r.metaPath, JSON.stringify(meta, null, 2) + "\n");
    res = await runTask(VERIFY, [r.ggufPath]);
    assert.equal(res.code, 19);
    assert.match(
      res.stderr,
      new RegExp(`meta\\.json: tensor ${victim.replaceAll(".", "\\.")}: xxh64 0{16} recorded`),
    );
    await Deno.writeTextFile(r.metaPath, metaText);

    const target = ranges.find((x) => x.name === "blk.2.ffn_down.weight") ??
      ranges[ranges.length - 1]!;
    await flipByte(r.ggufPath, target.start + 17);
    res = await runTask(VERIFY, [r.ggufPath, "--pubkey", `${outDir}/k.pem.pub`]);
    assert.equal(res.code, 19);
    const escaped = target.name.replaceAll(".", "\\.");
    assert.match(res.stderr, new RegExp(`meta\\.json: tensor ${escaped}: xxh64`));
    assert.match(res.stderr, new RegExp(`gguf-hash line \\d+: tensor ${escaped}: xxh64`));
    assert.match(res.stderr, /fingerprint: records sha256/);
    assert.match(res.stderr, /\.sig: the signature does not match/);
    // Only the flipped tensor is named among the tensors.
    const named = new Set([...res.stderr.matchAll(/tensor (\S+?):/g)].map((m) => m[1]));
    assert.deepEqual([...named], [target.name]);
  } finally {
    await Deno.remove(outDir, { recursive: true });
  }
});

/** llama.cpp's own gguf-hash, when a build is there (opt-in: the default suite uses known vectors). */
const PEER_GGUF_HASH = "/work/peers/llama.cpp/build/bin/llama-gguf-hash";
const peerPresent = await Deno.stat(PEER_GGUF_HASH).then((s) => s.isFile, () => false);

Deno.test({
  name:
    "exported fixture: the .gguf-hash manifest equals what llama-gguf-hash prints, by default, with --all and --uuid (peer binary)",
  ignore: !peerPresent,
  fn: async () => {
    const outDir = await Deno.makeTempDir();
    try {
      const cases: [GgufHashAlgo[] | undefined, string[]][] = [
        [undefined, []],
        [["xxh64", "sha1", "sha256"], ["--all"]],
        [["uuid"], ["--uuid"]],
        [["xxh64", "sha1", "sha256", "uuid"], ["--all", "--uuid"]],
      ];
      for (const [manifest, flags] of cases) {
        const r = await exportCleanGguf({
          modelDir: "fixtures/tiny-bitnet",
          outDir,
          quiet: true,
          ...(manifest ? { manifest } : {}),
        });
        const name = r.ggufPath.split("/").pop()!;
        // Run in the file's folder with the bare name: the label our manifests use.
        const out = await new Deno.Command(PEER_GGUF_HASH, { args: [...flags, name], cwd: outDir })
          .output();
        assert.ok(out.success, new TextDecoder().decode(out.stderr));
        const printed = new TextDecoder().decode(out.stdout).split("\n").filter((l) =>
          /^(xxh64|sha1|sha256|uuid)\s/.test(l)
        );
        const ours = (await Deno.readTextFile(r.manifestPath)).trimEnd().split("\n");
        assert.deepEqual(printed, ours, flags.join(" ") || "default");
      }
    } finally {
      await Deno.remove(outDir, { recursive: true });
    }
  },
});
