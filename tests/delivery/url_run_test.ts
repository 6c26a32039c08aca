/**
 * The task scripts run from a URL with no checkout: the repository is served
 * over HTTP on 127.0.0.1 and the scripts are run from there as subprocesses,
 * from an empty working folder, on the fixture given by absolute paths.
 *
 * What a user does with a pinned commit URL, and what this test does:
 * 1. `deno cache --lock=<copy of deno.lock> <urls>`: fetches the module graphs.
 *    The committed lock must already pin every npm package they reach (the
 *    test checks that only `remote` entries were added, each the sha256 of the
 *    repository file it names).
 * 2. `deno run --frozen --lock=<that lock> <perms> <url> ...`.
 * A lock without the remote entries cannot be used with `--frozen` (Deno
 * records the hash of every remote module), hence step 1.
 *
 * @module
 */

import assert from "node:assert/strict";
import { FIXTURE_DIR } from "../_models.ts";
import { denoIn, type Run } from "./_user.ts";

const REPO = Deno.realPathSync(".");
const FIXTURE = `${REPO}/${FIXTURE_DIR}`;
const TOKENIZER = `${FIXTURE}/tokenizer.json`;

const CONTENT_TYPES: Record<string, string> = {
  ts: "application/typescript; charset=utf-8",
  js: "application/javascript; charset=utf-8",
  mjs: "application/javascript; charset=utf-8",
  json: "application/json; charset=utf-8",
  wasm: "application/wasm",
};

/** Serves the repository's files read-only; records every path asked for. */
function serveRepository(): {
  server: Deno.HttpServer<Deno.NetAddr>;
  requests: Map<string, number>;
} {
  const requests = new Map<string, number>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    if (req.method !== "GET" && req.method !== "HEAD") return new Response(null, { status: 405 });
    const segments = path.split("/").filter((s) => s !== "");
    if (segments.some((s) => s === ".." || s.startsWith("."))) {
      requests.set(path, 403);
      return new Response("forbidden", { status: 403 });
    }
    try {
      const body = await Deno.readFile(`${REPO}/${segments.join("/")}`);
      requests.set(path, 200);
      const ext = path.slice(path.lastIndexOf(".") + 1);
      return new Response(req.method === "HEAD" ? null : body, {
        headers: { "content-type": CONTENT_TYPES[ext] ?? "application/octet-stream" },
      });
    } catch {
      requests.set(path, 404);
      return new Response("not found", { status: 404 });
    }
  });
  return { server, requests };
}

function deno(args: string[], cwd: string, env: Record<string, string> = {}): Promise<Run> {
  return denoIn(cwd, args, env);
}

function show(run: Run): string {
  return `exit ${run.code}\n--- stdout\n${run.stdout.slice(-3000)}\n--- stderr\n${
    run.stderr.slice(-3000)
  }`;
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The scripts of tasks/, as file names. */
function taskScripts(): string[] {
  return [...Deno.readDirSync(`${REPO}/tasks`)]
    .filter((e) => e.isFile && e.name.endsWith(".ts"))
    .map((e) => e.name)
    .sort();
}

Deno.test("task scripts run from an HTTP URL with no checkout, lock checked", async (t) => {
  const { server, requests } = serveRepository();
  const base = `http://127.0.0.1:${server.addr.port}`;
  const tmp = await Deno.makeTempDir({ prefix: "url_run_" });
  const cwd = `${tmp}/cwd`; // an empty folder: nothing of the repository is reachable by a relative path
  const out = `${tmp}/out`;
  const lock = `${tmp}/run.lock`;
  await Deno.mkdir(cwd);
  await Deno.copyFile(`${REPO}/deno.lock`, lock);
  const run = (script: string, perms: string[], args: string[], env?: Record<string, string>) =>
    deno(
      ["run", "--frozen", `--lock=${lock}`, ...perms, `${base}/tasks/${script}`, ...args],
      cwd,
      env,
    );
  const writeOut = [`--allow-read`, `--allow-write=${tmp}`, `--allow-env`];

  try {
    await t.step(
      "deno cache: every task script's graph loads over HTTP; npm fully locked",
      async () => {
        const scripts = taskScripts();
        const cached = await deno(
          ["cache", `--lock=${lock}`, ...scripts.map((s) => `${base}/tasks/${s}`)],
          cwd,
        );
        assert.equal(cached.code, 0, show(cached));
        const missing = [...requests].filter(([, status]) => status !== 200);
        assert.deepEqual(
          missing,
          [],
          "every module the scripts import is served from the repository",
        );

        const before = JSON.parse(await Deno.readTextFile(`${REPO}/deno.lock`));
        const after = JSON.parse(await Deno.readTextFile(lock));
        const { remote, ...rest } = after;
        const { remote: _committedRemote, ...committed } = before;
        assert.deepEqual(rest, committed, "the committed deno.lock already pins every npm package");
        const entries = Object.entries(remote as Record<string, string>);
        assert.ok(entries.length > 0);
        for (const [url, hash] of entries) {
          assert.ok(url.startsWith(`${base}/`), `remote module from elsewhere: ${url}`);
          const file = await Deno.readFile(`${REPO}/${url.slice(base.length + 1)}`);
          assert.equal(hash, await sha256Hex(file), `lock hash of ${url}`);
        }
        for (const s of scripts) assert.ok(`${base}/tasks/${s}` in remote, `tasks/${s} locked`);
        assert.ok(
          `${base}/lib/inference/kernels/worker.ts` in remote,
          "the kernel worker is in the graph",
        );
      },
    );

    await t.step("--help of every task script, frozen lock", async () => {
      for (const script of taskScripts()) {
        // build_wasm rewrites a source file of a checkout: it has no --help and nothing to do here.
        if (script === "build_wasm.ts") continue;
        const r = await run(script, ["--allow-read", "--allow-env", "--allow-run=deno"], [
          "--help",
        ]);
        assert.equal(r.code, 0, `${script} --help\n${show(r)}`);
        assert.match(r.stdout, /usage/i, `${script} --help prints its usage`);
      }
    });

    let urlFingerprint = "";
    await t.step("export_clean_gguf.ts from the URL exports the fixture", async () => {
      const r = await run("export_clean_gguf.ts", writeOut, [
        FIXTURE,
        TOKENIZER,
        out,
        "--json",
        "--quiet",
      ]);
      assert.equal(r.code, 0, show(r));
      const summary = JSON.parse(r.stdout);
      assert.equal(summary.gguf, `${out}/clean-f16.gguf`);
      const gguf = await Deno.readFile(summary.gguf);
      urlFingerprint = `sha256-${await sha256Hex(gguf)}`;
      assert.equal(summary.fingerprint, urlFingerprint);
      assert.equal(
        (await Deno.readTextFile(`${out}/clean-f16.fingerprint`)).trim(),
        urlFingerprint,
      );
      const meta = JSON.parse(await Deno.readTextFile(`${out}/clean-f16.meta.json`));
      assert.equal(meta.norms_format, "float_preserved");
      assert.ok((await Deno.stat(`${out}/clean-f16.gguf-hash`)).size > 0);
      assert.deepEqual([...Deno.readDirSync(cwd)], [], "nothing written to the working folder");
    });

    await t.step("the URL export is byte-identical to a checkout export", async () => {
      const local = `${tmp}/local`;
      const r = await deno(
        [
          "run",
          "--frozen",
          ...writeOut,
          "tasks/export_clean_gguf.ts",
          FIXTURE,
          TOKENIZER,
          local,
          "--quiet",
        ],
        REPO,
      );
      assert.equal(r.code, 0, show(r));
      const bytes = await Deno.readFile(`${local}/clean-f16.gguf`);
      assert.equal(`sha256-${await sha256Hex(bytes)}`, urlFingerprint);
    });

    await t.step("validate_gguf.ts from the URL passes, with a kernel worker thread", async () => {
      const report = `${out}/report.json`;
      const r = await run(
        "validate_gguf.ts",
        writeOut,
        [`${out}/clean-f16.gguf`, TOKENIZER, "--json", "--report", report, "--threads", "2"],
        { BITNET_STRICT_MODE: "1", BITNET_DETERMINISTIC: "1" },
      );
      assert.equal(r.code, 0, show(r));
      const json = JSON.parse(r.stdout);
      assert.deepEqual(JSON.parse(await Deno.readTextFile(report)), json);
      assert.equal(json.exitCode, 0);
      assert.equal(json.passed, true);
      assert.equal(json.environment.strict, true);
      // The worker module is loaded from the HTTP URL: two threads mean one worker started.
      const checks = (json.gates as { checks?: { id: string; message: string | null }[] }[])
        .flatMap((g) => g.checks ?? []);
      const load = checks.find((c) => c.id === "engine_load");
      assert.match(load?.message ?? "", /wasm.* 2 thread/, JSON.stringify(load));
    });

    await t.step("quantize_i2s_clean.ts from the URL (its hashing worker too)", async () => {
      const r = await run("quantize_i2s_clean.ts", writeOut, [
        `${out}/clean-f16.gguf`,
        out,
        "--json",
        "--quiet",
      ]);
      assert.equal(r.code, 0, show(r));
      const summary = JSON.parse(r.stdout);
      const gguf = await Deno.readFile(`${out}/clean-i2_s.gguf`);
      assert.equal(summary.fingerprint, `sha256-${await sha256Hex(gguf)}`);
      // The source's sha256, computed by lib/io/sha256_worker.ts, is recorded in meta.json.
      const meta = await Deno.readTextFile(`${out}/clean-i2_s.meta.json`);
      const source = `${await sha256Hex(await Deno.readFile(`${out}/clean-f16.gguf`))}`;
      assert.ok(meta.includes(source), "meta.json records the source GGUF's sha256");
    });

    await t.step("exit codes come through: usage error 2, strict-mode refusal 16", async () => {
      const usage = await run("validate_gguf.ts", writeOut, []);
      assert.equal(usage.code, 2, show(usage));
      const refused = await run("validate_gguf.ts", writeOut, [`${out}/clean-f16.gguf`], {
        BITNET_STRICT_MODE: "1",
        BITNET_FIX_LN_SCALE: "1",
      });
      assert.equal(refused.code, 16, show(refused));
    });
  } finally {
    await server.shutdown();
    await Deno.remove(tmp, { recursive: true });
  }
});
