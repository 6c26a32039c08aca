import assert from "node:assert/strict";
import { startFakeHub } from "../hub/fake_hub.ts";
import { FIXTURE_DIR } from "../_models.ts";

async function fixtureFiles(): Promise<Record<string, Uint8Array>> {
  const files: Record<string, Uint8Array> = {};
  for (const f of ["config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors"]) {
    files[f] = await Deno.readFile(`${FIXTURE_DIR}/${f}`);
  }
  return files;
}

Deno.test("model-export --hf-repo downloads from the (local) Hub, exports, and records the origin", async () => {
  const hub = startFakeHub([{ name: "tiny/bitnet", files: await fixtureFiles() }]);
  const dir = await Deno.makeTempDir({ prefix: "clean-gguf-hub-export-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        `--allow-write=${dir}`,
        "--allow-env",
        "--allow-net=127.0.0.1",
        "tasks/export_clean_gguf.ts",
        "--hf-repo",
        "tiny/bitnet",
        "--hub-url",
        hub.url,
        "--cache-dir",
        `${dir}/hub`,
        "--quiet",
        "--json",
        `${dir}/out`,
      ],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const summary = JSON.parse(new TextDecoder().decode(out.stdout));
    const meta = JSON.parse(await Deno.readTextFile(summary.meta));
    assert.equal(meta.options.origin.hf_repo, "tiny/bitnet");
    assert.match(meta.options.origin.commit, /^[0-9a-f]{40}$/);
    // Same bytes in, same tensors out as a local export of the fixture (general.name differs:
    // it is the repo's name here), so the payload-only manifests are equal line for line.
    const local = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "tasks/export_clean_gguf.ts",
        FIXTURE_DIR,
        "",
        `${dir}/local`,
        "--quiet",
        "--json",
      ],
      stdout: "piped",
    }).output();
    const localSummary = JSON.parse(new TextDecoder().decode(local.stdout));
    assert.equal(
      await Deno.readTextFile(summary.manifest),
      await Deno.readTextFile(localSummary.manifest),
    );
  } finally {
    await hub.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task model-export --hf-repo from a user's folder: network to the Hub only, HF_TOKEN read, outputs relative", async () => {
  const { userTask, show } = await import("../delivery/_user.ts");
  const token = "hf_private_test_token";
  const hub = startFakeHub([{ name: "me/private", files: await fixtureFiles(), token }]);
  const user = await Deno.makeTempDir({ prefix: "clean-gguf-hub-task-" });
  try {
    const args = ["--hf-repo", "me/private", "--hub-url", hub.url, "out", "--json", "--quiet"];
    const r = await userTask(user, "model-export", args, { HF_TOKEN: token });
    assert.equal(r.code, 0, show("model-export", args, r));
    const summary = JSON.parse(r.stdout);
    assert.equal(summary.gguf, "out/clean-f16.gguf");
    // The cache defaults to models/hub in the user's folder.
    assert.ok((await Deno.stat(`${user}/models/hub`)).isDirectory);
    const refused = await userTask(user, "model-export", args);
    assert.equal(refused.code, 20, "no token, no access: " + refused.stderr);
  } finally {
    await hub.close();
    await Deno.remove(user, { recursive: true });
  }
});
