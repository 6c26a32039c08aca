import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { DownloadError, UsageError } from "../../lib/errors.ts";
import { downloadFromHub } from "../../lib/hub/download.ts";
import { type FakeRepo, startFakeHub } from "./fake_hub.ts";

const FIXTURE = "fixtures/tiny-bitnet";
const COMMIT = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d";
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

async function fixtureFiles(): Promise<Record<string, Uint8Array>> {
  const names = [
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "model.safetensors",
    "README.md",
  ];
  const out: Record<string, Uint8Array> = {};
  for (const n of names) out[n] = await Deno.readFile(`${FIXTURE}/${n}`);
  return out;
}

async function withHub(
  repos: FakeRepo[],
  body: (hub: ReturnType<typeof startFakeHub>, cacheDir: string) => Promise<void>,
): Promise<void> {
  const hub = startFakeHub(repos);
  const cacheDir = await Deno.makeTempDir();
  try {
    await body(hub, cacheDir);
  } finally {
    await hub.close();
    await Deno.remove(cacheDir, { recursive: true });
  }
}

const transfers = (hub: { requests: { path: string; range: string | null }[] }) =>
  hub.requests.filter((r) =>
    (r.path.includes("/resolve/") || r.path.startsWith("/cdn/")) && r.range !== "bytes=0-0"
  );

Deno.test("downloadFromHub: a normal download fetches config, tokenizer and weights, checks them, and reuses the cache", async () => {
  const files = await fixtureFiles();
  await withHub([{ name: "tiny/bitnet", files, commit: COMMIT }], async (hub, cacheDir) => {
    const r = await downloadFromHub({
      repo: "tiny/bitnet",
      hubUrl: hub.url,
      cacheDir,
      token: null,
      progress: false,
    });
    assert.equal(r.commit, COMMIT);
    assert.equal(r.modelDir, `${cacheDir}/tiny--bitnet/${COMMIT}`);
    assert.deepEqual(r.files.map((f) => f.path), [
      "config.json",
      "tokenizer.json",
      "generation_config.json",
      "tokenizer_config.json",
      "model.safetensors",
    ]);
    for (const f of r.files) {
      const original = files[f.path]!;
      assert.deepEqual(await Deno.readFile(`${r.modelDir}/${f.path}`), original, f.path);
      assert.equal(f.sha256, sha256(original));
      assert.equal(f.size, original.length);
    }
    assert.equal(await Deno.stat(`${r.modelDir}/README.md`).catch(() => null), null);
    // The library's URL layout: revision, tree, then resolve (weights via the CDN redirect).
    assert.equal(hub.requests[0]!.path, "/api/models/tiny/bitnet/revision/main");
    assert.equal(hub.requests[1]!.path, `/api/models/tiny/bitnet/tree/${COMMIT}`);
    assert.ok(hub.requests.some((q) => q.path === `/tiny/bitnet/resolve/${COMMIT}/config.json`));
    assert.ok(
      hub.requests.some((q) =>
        q.path === `/cdn/tiny/bitnet/${sha256(files["model.safetensors"]!)}`
      ),
    );
    assert.ok(hub.requests.every((q) => q.authorization === null));

    const before = hub.requests.length;
    const again = await downloadFromHub({
      repo: "tiny/bitnet",
      hubUrl: hub.url,
      cacheDir,
      token: null,
      progress: false,
    });
    assert.deepEqual(again.files, r.files);
    assert.equal(
      transfers({ requests: hub.requests.slice(before) }).length,
      0,
      "nothing fetched twice",
    );
  });
});

Deno.test("downloadFromHub: a partial file left in the cache is resumed with a Range request", async () => {
  const files = await fixtureFiles();
  const weights = files["model.safetensors"]!;
  await withHub([{ name: "tiny/bitnet", files, commit: COMMIT }], async (hub, cacheDir) => {
    const dir = `${cacheDir}/tiny--bitnet/${COMMIT}`;
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeFile(`${dir}/model.safetensors.part`, weights.subarray(0, 3_000_000));
    const r = await downloadFromHub({
      repo: "tiny/bitnet",
      hubUrl: hub.url,
      cacheDir,
      token: null,
      progress: false,
    });
    const ranged = transfers(hub).filter((q) => q.path.startsWith("/cdn/"));
    assert.deepEqual(ranged.map((q) => q.range), [`bytes=3000000-${weights.length - 1}`]);
    assert.deepEqual(await Deno.readFile(`${r.modelDir}/model.safetensors`), weights);
    assert.equal(r.files.find((f) => f.path === "model.safetensors")!.sha256, sha256(weights));
    assert.equal(await Deno.stat(`${dir}/model.safetensors.part`).catch(() => null), null);
  });
});

Deno.test("downloadFromHub: a cut connection keeps earlier files and the partial one; the next run resumes", async () => {
  const files = await fixtureFiles();
  const weights = files["model.safetensors"]!;
  await withHub(
    [{ name: "tiny/bitnet", files, commit: COMMIT, cutAfter: { "model.safetensors": 1_000_000 } }],
    async (hub, cacheDir) => {
      const dir = `${cacheDir}/tiny--bitnet/${COMMIT}`;
      await assert.rejects(
        () =>
          downloadFromHub({
            repo: "tiny/bitnet",
            hubUrl: hub.url,
            cacheDir,
            token: null,
            progress: false,
          }),
        (e) =>
          e instanceof DownloadError && e.exitCode === 20 &&
          /model\.safetensors: transfer interrupted/.test(e.message),
      );
      assert.deepEqual(await Deno.readFile(`${dir}/config.json`), files["config.json"]);
      assert.deepEqual(await Deno.readFile(`${dir}/tokenizer.json`), files["tokenizer.json"]);
      const partial = (await Deno.stat(`${dir}/model.safetensors.part`)).size;
      assert.ok(partial > 0 && partial <= 1_000_000, `partial ${partial}`);

      const before = hub.requests.length;
      const r = await downloadFromHub({
        repo: "tiny/bitnet",
        hubUrl: hub.url,
        cacheDir,
        token: null,
        progress: false,
      });
      const again = transfers({ requests: hub.requests.slice(before) });
      assert.deepEqual(again.map((q) => q.range), [`bytes=${partial}-${weights.length - 1}`]);
      assert.deepEqual(await Deno.readFile(`${r.modelDir}/model.safetensors`), weights);
    },
  );
});

Deno.test("downloadFromHub: a server that ignores Range makes the download start again from zero", async () => {
  const files = await fixtureFiles();
  const weights = files["model.safetensors"]!;
  await withHub(
    [{ name: "tiny/bitnet", files, commit: COMMIT, ignoreRange: true }],
    async (hub, cacheDir) => {
      const dir = `${cacheDir}/tiny--bitnet/${COMMIT}`;
      await Deno.mkdir(dir, { recursive: true });
      await Deno.writeFile(`${dir}/model.safetensors.part`, weights.subarray(0, 123_456));
      const r = await downloadFromHub({
        repo: "tiny/bitnet",
        hubUrl: hub.url,
        cacheDir,
        token: null,
        progress: false,
      });
      assert.deepEqual(await Deno.readFile(`${r.modelDir}/model.safetensors`), weights);
      const cdn = transfers(hub).filter((q) => q.path.startsWith("/cdn/")).map((q) => q.range);
      assert.deepEqual(cdn, [`bytes=123456-${weights.length - 1}`, null]);
    },
  );
});

Deno.test("downloadFromHub: corrupted content is refused (LFS sha256 and git sha1) and removed; earlier files stay", async () => {
  const files = await fixtureFiles();
  await withHub([
    { name: "tiny/bad-weights", files, corrupt: ["model.safetensors"] },
    { name: "tiny/bad-config", files, corrupt: ["config.json"] },
  ], async (hub, cacheDir) => {
    await assert.rejects(
      () =>
        downloadFromHub({
          repo: "tiny/bad-weights",
          hubUrl: hub.url,
          cacheDir,
          token: null,
          progress: false,
        }),
      (e) =>
        e instanceof DownloadError && e.exitCode === 20 &&
        e.message.includes(
          `model.safetensors: content does not match the Hub's LFS sha256 (expected ${
            sha256(files["model.safetensors"]!)
          }`,
        ),
    );
    const [dir] = [...Deno.readDirSync(`${cacheDir}/tiny--bad-weights`)].map((d) =>
      `${cacheDir}/tiny--bad-weights/${d.name}`
    );
    const left = [...Deno.readDirSync(dir!)].map((d) => d.name).sort();
    assert.deepEqual(left, [
      "config.json",
      "generation_config.json",
      "tokenizer.json",
      "tokenizer_config.json",
    ]);

    await assert.rejects(
      () =>
        downloadFromHub({
          repo: "tiny/bad-config",
          hubUrl: hub.url,
          cacheDir,
          token: null,
          progress: false,
        }),
      (e) =>
        e instanceof DownloadError &&
        /config\.json: content does not match the Hub's git blob sha1/.test(e.message),
    );
  });
});

Deno.test("downloadFromHub: sharded weights; a listed shard the Hub cannot serve is a clear error and keeps the others", async () => {
  const weights = await Deno.readFile(`${FIXTURE}/model.safetensors`);
  const half = Math.floor(weights.length / 2);
  const index = {
    metadata: { total_size: weights.length },
    weight_map: {
      "a": "model-00001-of-00002.safetensors",
      "b": "model-00002-of-00002.safetensors",
    },
  };
  const base = {
    "config.json": await Deno.readFile(`${FIXTURE}/config.json`),
    "tokenizer.json": await Deno.readFile(`${FIXTURE}/tokenizer.json`),
    "model.safetensors.index.json": new TextEncoder().encode(JSON.stringify(index)),
    "model-00001-of-00002.safetensors": weights.slice(0, half),
    "model-00002-of-00002.safetensors": weights.slice(half),
    "consolidated.safetensors": weights, // not in the index: not fetched
  };
  await withHub([
    { name: "tiny/sharded", files: base },
    { name: "tiny/lost-shard", files: base, missing: ["model-00002-of-00002.safetensors"] },
    {
      name: "tiny/no-config",
      files: { "tokenizer.json": base["tokenizer.json"], "model.safetensors": weights },
    },
  ], async (hub, cacheDir) => {
    const r = await downloadFromHub({
      repo: "tiny/sharded",
      hubUrl: hub.url,
      cacheDir,
      token: null,
      progress: false,
    });
    assert.deepEqual(r.files.map((f) => f.path), [
      "config.json",
      "tokenizer.json",
      "model.safetensors.index.json",
      "model-00001-of-00002.safetensors",
      "model-00002-of-00002.safetensors",
    ]);
    assert.ok(!hub.requests.some((q) => q.path.includes("consolidated")));

    await assert.rejects(
      () =>
        downloadFromHub({
          repo: "tiny/lost-shard",
          hubUrl: hub.url,
          cacheDir,
          token: null,
          progress: false,
        }),
      (e) =>
        e instanceof DownloadError &&
        /model-00002-of-00002\.safetensors is listed but the Hub has no such file \(HTTP 404\)/
          .test(e.message),
    );
    const dir = [...Deno.readDirSync(`${cacheDir}/tiny--lost-shard`)][0]!.name;
    assert.deepEqual(
      await Deno.readFile(`${cacheDir}/tiny--lost-shard/${dir}/model-00001-of-00002.safetensors`),
      base["model-00001-of-00002.safetensors"],
    );

    await assert.rejects(
      () =>
        downloadFromHub({
          repo: "tiny/no-config",
          hubUrl: hub.url,
          cacheDir,
          token: null,
          progress: false,
        }),
      (e) =>
        e instanceof DownloadError &&
        /tiny\/no-config: the repository has no config\.json/.test(e.message),
    );
  });
});

Deno.test("downloadFromHub: 401 without a token names HF_TOKEN; the token is sent when given", async () => {
  const files = await fixtureFiles();
  await withHub([{ name: "tiny/private", files, token: "hf_secret" }], async (hub, cacheDir) => {
    await assert.rejects(
      () =>
        downloadFromHub({
          repo: "tiny/private",
          hubUrl: hub.url,
          cacheDir,
          token: null,
          progress: false,
        }),
      (e) =>
        e instanceof DownloadError && e.exitCode === 20 && /HTTP 401/.test(e.message) &&
        /HF_TOKEN/.test(e.message),
    );
    await assert.rejects(
      () =>
        downloadFromHub({
          repo: "tiny/private",
          hubUrl: hub.url,
          cacheDir,
          token: "hf_wrong",
          progress: false,
        }),
      (e) =>
        e instanceof DownloadError && /HTTP 401/.test(e.message) && /has no access/.test(e.message),
    );
    const r = await downloadFromHub({
      repo: "tiny/private",
      hubUrl: hub.url,
      cacheDir,
      token: "hf_secret",
      progress: false,
    });
    assert.equal(r.files.length, 5);
    assert.ok(
      hub.requests.filter((q) => q.status < 300).every((q) =>
        q.authorization === "Bearer hf_secret"
      ),
    );
  });
});

Deno.test("downloadFromHub: bad repo names, unknown revisions and unknown repos", async () => {
  await withHub([{ name: "tiny/bitnet", files: await fixtureFiles() }], async (hub, cacheDir) => {
    const opts = { hubUrl: hub.url, cacheDir, token: null, progress: false } as const;
    await assert.rejects(() => downloadFromHub({ ...opts, repo: "no-slash" }), UsageError);
    await assert.rejects(() => downloadFromHub({ ...opts, repo: "../etc/x" }), UsageError);
    await assert.rejects(
      () => downloadFromHub({ ...opts, repo: "tiny/bitnet", revision: "v9" }),
      (e) => e instanceof DownloadError && /revision v9/.test(e.message) && /404/.test(e.message),
    );
    await assert.rejects(
      () => downloadFromHub({ ...opts, repo: "tiny/nothing" }),
      (e) => e instanceof DownloadError && /tiny\/nothing/.test(e.message) && /404/.test(e.message),
    );
  });
});

Deno.test("downloadFromHub: a redirect to another host (the CDN) drops the token", async () => {
  const files = await fixtureFiles();
  const hub = startFakeHub([{ name: "tiny/private", files, token: "hf_secret" }], {
    cdnHostname: "localhost",
  });
  const cacheDir = await Deno.makeTempDir();
  try {
    await downloadFromHub({
      repo: "tiny/private",
      hubUrl: hub.url,
      cacheDir,
      token: "hf_secret",
      progress: false,
    });
    const cdn = hub.requests.filter((q) => q.path.startsWith("/cdn/"));
    assert.ok(cdn.length > 0);
    assert.ok(cdn.every((q) => q.authorization === null), "no token sent to the CDN host");
    const api = hub.requests.filter((q) => !q.path.startsWith("/cdn/"));
    assert.ok(api.every((q) => q.authorization === "Bearer hf_secret"));
  } finally {
    await hub.close();
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("downloadFromHub: network permission is asked per host; refusal names the host and the flag (exit 20)", async () => {
  const files = await fixtureFiles();
  const hub = startFakeHub([{ name: "tiny/bitnet", files }], { cdnHostname: "localhost" });
  const dir = await Deno.makeTempDir();
  try {
    const lib = new URL("lib/", `file://${Deno.cwd()}/`).href;
    await Deno.writeTextFile(
      `${dir}/client.ts`,
      `import { downloadFromHub } from "${lib}hub/download.ts";
import { exitCodeOf } from "${lib}errors.ts";
try {
  await downloadFromHub({ repo: "tiny/bitnet", hubUrl: Deno.args[0], cacheDir: Deno.args[1], token: null, progress: false });
} catch (e) {
  console.error(e.message);
  Deno.exit(exitCodeOf(e));
}
`,
    );
    const host = new URL(hub.url).host;
    const run = async (net: string[]) => {
      const o = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--no-prompt",
          "--allow-read",
          `--allow-write=${dir}`,
          "--allow-env=CI",
          ...net,
          `${dir}/client.ts`,
          hub.url,
          `${dir}/cache`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      return { code: o.code, stderr: new TextDecoder().decode(o.stderr) };
    };
    let r = await run([]);
    assert.equal(r.code, 20);
    assert.match(r.stderr, new RegExp(`network access to ${host} is needed .*--allow-net=${host}`));
    r = await run([`--allow-net=${host}`]);
    assert.equal(r.code, 20);
    assert.match(
      r.stderr,
      /follow the Hub's redirect to its CDN \(run with --allow-net=localhost:\d+\)/,
    );
    r = await run([`--allow-net=${host},localhost:${new URL(hub.url).port}`]);
    assert.equal(r.code, 0, r.stderr);
  } finally {
    await hub.close();
    await Deno.remove(dir, { recursive: true });
  }
});
