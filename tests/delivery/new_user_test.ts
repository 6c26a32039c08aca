/**
 * A new user's session, scripted: from a folder of their own outside the
 * repository, with `deno task --config <repo>/deno.json`, every writing task
 * once with paths relative to that folder and once with absolute paths to
 * another folder outside the repository: export, quantize (I2_S, TQ2_0,
 * TQ1_0), validate, probe, baseline, check, clean, sign (a new key in a
 * folder that does not exist yet), verify, then a re-export that removes
 * the signature and baseline of the previous one. Nothing lands in the
 * repository. Independent runs go two at a time.
 */

import assert from "node:assert/strict";
import { REPO } from "./_scan.ts";
import { exists, type Run, show, userTask } from "./_user.ts";
import { FIXTURE_DIR } from "../_models.ts";

async function sha256Hex(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("a new user's session from their own folder: relative and absolute paths, outputs anywhere", async (t) => {
  const user = await Deno.makeTempDir({ prefix: "new_user_" }); // the user's folder
  const abs = await Deno.makeTempDir({ prefix: "new_user_abs_" }); // elsewhere, named absolutely
  const run = (name: string, args: string[], env?: Record<string, string>) =>
    userTask(user, name, args, env);
  const ok = async (name: string, args: string[]): Promise<Run> => {
    const r = await run(name, args);
    assert.equal(r.code, 0, show(name, args, r));
    return r;
  };
  const both = (a: () => Promise<Run>, b: () => Promise<Run>) => Promise.all([a(), b()]);
  const repoBefore = new Set([...Deno.readDirSync(REPO)].map((e) => e.name));
  try {
    await Deno.mkdir(`${user}/ckpt`);
    for (const e of Deno.readDirSync(`${REPO}/${FIXTURE_DIR}`)) {
      if (e.isFile) {
        await Deno.copyFile(`${REPO}/${FIXTURE_DIR}/${e.name}`, `${user}/ckpt/${e.name}`);
      }
    }

    await t.step("model-export: out (relative) and <abs>/f16", async () => {
      const [rel, full] = await both(
        () => ok("model-export", ["ckpt", "ckpt/tokenizer.json", "out", "--quiet"]),
        () => ok("model-export", ["ckpt", "", `${abs}/f16`, "--json", "--quiet"]),
      );
      assert.equal(rel.stdout.split("\n")[0], "out/clean-f16.gguf");
      assert.equal(JSON.parse(full.stdout).gguf, `${abs}/f16/clean-f16.gguf`);
      const [a, b] = [
        await sha256Hex(`${user}/out/clean-f16.gguf`),
        await sha256Hex(`${abs}/f16/clean-f16.gguf`),
      ];
      assert.equal(a, b, "same checkpoint folder name, same bytes");
      assert.equal(rel.stderr, "", "--quiet: nothing on stderr");
    });

    await t.step(
      "model-quantize-i2s: I2_S beside its input, TQ2_0 to <abs>/q, TQ1_0 to q (relative)",
      async () => {
        const [i2s, tq2] = await both(
          () => ok("model-quantize-i2s", ["out/clean-f16.gguf", "--quiet"]),
          () => ok("model-quantize-i2s", ["out/clean-f16.gguf", `${abs}/q`, "--type", "TQ2_0"]),
        );
        assert.equal(i2s.stdout.split("\n")[0], "out/clean-i2_s.gguf");
        assert.equal(tq2.stdout.split("\n")[0], `${abs}/q/clean-tq2_0.gguf`);
        // The fixture is exported as bitnet-b1.58, which upstream llama.cpp does not load.
        assert.match(
          tq2.stderr,
          /warning: .*"bitnet-b1\.58", but upstream llama\.cpp loads TQ2_0 files only as "bitnet" or "llama"/,
        );
        const tq1 = await ok("model-quantize-i2s", [
          `${abs}/f16/clean-f16.gguf`,
          "q",
          "--type",
          "tq1_0",
          "--json",
        ]);
        assert.equal(JSON.parse(tq1.stdout).gguf, "q/clean-tq1_0.gguf");
        assert.ok(await exists(`${user}/q/clean-tq1_0.meta.json`));
      },
    );

    await t.step(
      "model-validate --report: reports/ (relative, created) and <abs>/reports",
      async () => {
        const [rel, full] = await both(
          () =>
            ok("model-validate", [
              "out/clean-i2_s.gguf",
              "--report",
              "reports/i2s.json",
              "--quiet",
            ]),
          () =>
            ok("model-validate", [
              `${abs}/q/clean-tq2_0.gguf`,
              "--against",
              "out/clean-f16.gguf",
              "--report",
              `${abs}/reports/tq2.json`,
              "--json",
            ]),
        );
        assert.match(rel.stdout, /PASSED exit 0/);
        assert.equal(JSON.parse(await Deno.readTextFile(`${user}/reports/i2s.json`)).exitCode, 0);
        assert.deepEqual(
          JSON.parse(await Deno.readTextFile(`${abs}/reports/tq2.json`)),
          JSON.parse(full.stdout),
        );
      },
    );

    await t.step("model-probe: a prompt ending in .json; --tokenizer relative", async () => {
      const [plain, json] = await both(
        () => ok("model-probe", ["q/clean-tq1_0.gguf", "What is in package.json", "4", "--quiet"]),
        () =>
          ok("model-probe", [
            `${abs}/f16/clean-f16.gguf`,
            "--tokenizer",
            "ckpt/tokenizer.json",
            "--json",
          ]),
      );
      assert.ok(plain.stdout.startsWith("What is in package.json"), plain.stdout);
      assert.equal(plain.stderr, "");
      assert.equal(JSON.parse(json.stdout).prompt, "The capital of France is");
      assert.match(json.stderr, /tok\/s/);
    });

    await t.step(
      "model-baseline: beside the GGUF (relative) and <abs>/reports/f16.md",
      async () => {
        await both(
          () => ok("model-baseline", ["out/clean-f16.gguf", "ckpt/tokenizer.json", "--quiet"]),
          () =>
            ok("model-baseline", [
              `${abs}/f16/clean-f16.gguf`,
              "ckpt/tokenizer.json",
              `${abs}/reports/f16.md`,
              "--quiet",
            ]),
        );
        for (const ext of ["md", "json", "svg"]) {
          assert.ok(await exists(`${user}/out/clean-f16.baseline.${ext}`), ext);
          assert.ok(await exists(`${abs}/reports/f16.${ext}`), ext);
        }
      },
    );

    await t.step("model-check: --out-dir chk (relative) and <abs>/chk", async () => {
      await both(
        () => ok("model-check", ["ckpt", "ckpt/tokenizer.json", "--out-dir", "chk", "--quiet"]),
        () =>
          ok("model-check", ["ckpt", "ckpt/tokenizer.json", "--out-dir", `${abs}/chk`, "--json"]),
      );
      assert.ok(await exists(`${user}/chk/clean-f16.baseline.json`));
      assert.ok(await exists(`${abs}/chk/clean-f16.baseline.json`));
    });

    await t.step(
      "model-clean with the export's flags: cln (relative) and <abs>/clean",
      async () => {
        const [, full] = await both(
          () => ok("model-clean", ["ckpt", "", "cln", "--quiet"]),
          () =>
            ok("model-clean", [
              "ckpt",
              "",
              `${abs}/clean`,
              "--name",
              "tiny",
              "--norm-type",
              "F16",
              "--report",
              `${abs}/clean/report.json`,
              "--json",
              "--quiet",
            ]),
        );
        assert.ok(await exists(`${user}/cln/clean-f16.gguf`));
        const summary = JSON.parse(full.stdout);
        assert.equal(summary.export.gguf, `${abs}/clean/tiny.gguf`);
        assert.equal(summary.validation.exitCode, 0);
        const meta = JSON.parse(await Deno.readTextFile(`${abs}/clean/tiny.meta.json`));
        assert.equal(meta.options.norm_type, "f16");
        assert.ok(await exists(`${abs}/clean/report.json`));
      },
    );

    await t.step(
      "model-sign: new keys in keys/ (absent) and <abs>/keys; sign both exports",
      async () => {
        await both(
          () => ok("model-sign", ["--generate-key", "--key", "keys/me.key"]),
          () => ok("model-sign", ["--generate-key", "--key", `${abs}/keys/me.key`, "--json"]),
        );
        for (const dir of [`${user}/keys`, `${abs}/keys`]) {
          assert.equal((await Deno.stat(dir)).mode! & 0o777, 0o700, dir);
          assert.equal((await Deno.stat(`${dir}/me.key`)).mode! & 0o777, 0o600, `${dir}/me.key`);
          assert.ok(await exists(`${dir}/me.key.pub`));
        }
        await both(
          () => ok("model-sign", ["out/clean-f16.gguf", "--key", "keys/me.key"]),
          () =>
            ok("model-sign", [
              `${abs}/f16/clean-f16.gguf`,
              "--key",
              `${abs}/keys/me.key`,
              "--sig",
              `${abs}/sigs/f16.sig`,
            ]),
        );
        assert.ok(await exists(`${user}/out/clean-f16.sig`));
        assert.ok(await exists(`${abs}/sigs/f16.sig`));
      },
    );

    await t.step("model-verify with the public keys, relative and absolute", async () => {
      const [rel, full] = await both(
        () => ok("model-verify", ["out/clean-f16.gguf", "--pubkey", "keys/me.key.pub"]),
        () =>
          ok("model-verify", [
            `${abs}/f16/clean-f16.gguf`,
            "--sig",
            `${abs}/sigs/f16.sig`,
            "--pubkey",
            `${abs}/keys/me.key.pub`,
            "--json",
          ]),
      );
      assert.match(rel.stdout, /ok\s+signature/);
      assert.equal(JSON.parse(full.stdout).ok, true);
    });

    await t.step(
      "a re-export that changes meta.json removes the old .sig and .baseline.*",
      async () => {
        const r = await ok("model-export", ["ckpt", "", "out", "--timestamp", "--json", "--quiet"]);
        const removed = JSON.parse(r.stdout).removed as string[];
        assert.deepEqual(removed.sort(), [
          "out/clean-f16.baseline.json",
          "out/clean-f16.baseline.md",
          "out/clean-f16.baseline.svg",
          "out/clean-f16.sig",
        ]);
        for (const path of removed) assert.ok(!(await exists(`${user}/${path}`)), path);
        await ok("model-verify", ["out/clean-f16.gguf"]);
      },
    );

    await t.step("nothing was written in the repository", () => {
      const added = [...Deno.readDirSync(REPO)].map((e) => e.name).filter((n) =>
        !repoBefore.has(n)
      );
      assert.deepEqual(added, []);
    });
  } finally {
    await Deno.remove(user, { recursive: true });
    await Deno.remove(abs, { recursive: true });
  }
});
