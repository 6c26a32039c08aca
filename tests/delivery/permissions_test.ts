/**
 * What a run may do, enforced by Deno: a task script run directly may write
 * only where its own `--allow-write` lets it, and says which flag is missing
 * before writing anything; and the launcher behind `deno task` never leaves
 * a task running after it is gone: a SIGKILL of `deno task` or of the
 * launcher stops the task within seconds, and a SIGTERM is passed on and
 * comes back as exit 143.
 *
 * The lifecycle cases keep an export waiting on a named pipe (its
 * config.json), so that the task is certainly running when it is killed.
 */

import assert from "node:assert/strict";
import { REPO } from "./_scan.ts";
import { denoIn, exists, userEnv } from "./_user.ts";
import { FIXTURE_DIR } from "../_models.ts";

const FIXTURE = `${REPO}/${FIXTURE_DIR}`;

function denoRun(cwd: string, args: string[]) {
  return denoIn(cwd, ["run", "--frozen", `--config=${REPO}/deno.json`, ...args]);
}

Deno.test("a script run directly without --allow-write for its output is refused, naming the flag; nothing is written", async () => {
  const user = await Deno.makeTempDir({ prefix: "perm_user_" });
  const elsewhere = await Deno.makeTempDir({ prefix: "perm_elsewhere_" });
  try {
    const perms = ["--allow-read", "--allow-env", `--allow-write=${user}`];
    const exported = await denoRun(user, [
      ...perms,
      `${REPO}/tasks/export_clean_gguf.ts`,
      FIXTURE,
      "",
      `${elsewhere}/out`,
    ]);
    assert.equal(exported.code, 8, exported.stderr);
    assert.equal(
      exported.stderr.trim(),
      `error: model-export may not write to ${elsewhere}/out: add --allow-write=${elsewhere}/out ` +
        `to the deno run command (deno task model-export grants it by itself)`,
    );
    assert.deepEqual(
      [...Deno.readDirSync(elsewhere)],
      [],
      "nothing written where it may not write",
    );

    // Allowed where it writes: the same run succeeds, and writes only there.
    const allowed = await denoRun(user, [
      "--allow-read",
      "--allow-env",
      `--allow-write=${elsewhere}/out`,
      `${REPO}/tasks/export_clean_gguf.ts`,
      FIXTURE,
      "",
      `${elsewhere}/out`,
      "--quiet",
    ]);
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.deepEqual([...Deno.readDirSync(user)], []);

    // A report file: its folder is what must be writable.
    const report = await denoRun(user, [
      "--allow-read",
      "--allow-env",
      `${REPO}/tasks/validate_gguf.ts`,
      `${elsewhere}/out/clean-f16.gguf`,
      "--no-probe",
      "--report",
      "reports/r.json",
    ]);
    assert.equal(report.code, 8, report.stderr);
    assert.match(report.stderr, new RegExp(`add --allow-write=${user}/reports `));
    assert.ok(!(await exists(`${user}/reports`)));
  } finally {
    await Deno.remove(user, { recursive: true });
    await Deno.remove(elsewhere, { recursive: true });
  }
});

/** Pids of processes whose command line contains every one of `parts`. */
async function pidsWith(...parts: string[]): Promise<number[]> {
  const pids: number[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmdline = (await Deno.readTextFile(`/proc/${e.name}/cmdline`)).split("\0");
      if (parts.every((p) => cmdline.includes(p))) pids.push(Number(e.name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

async function waitFor<T>(what: string, probe: () => Promise<T | null>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== null) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A `deno task model-export` that waits on a named pipe; its three processes' pids. */
async function blockedExport(user: string) {
  const id = crypto.randomUUID().slice(0, 8);
  const ckpt = `${user}/ckpt-${id}`;
  await Deno.mkdir(ckpt);
  const fifo = await new Deno.Command("mkfifo", { args: [`${ckpt}/config.json`] }).output();
  assert.equal(fifo.code, 0, "mkfifo");
  const out = `${user}/out-${id}`;
  const denoTask = new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "--config", `${REPO}/deno.json`, "model-export", ckpt, "", out],
    cwd: user,
    clearEnv: true,
    env: userEnv(),
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const [task] = await waitFor(
    "the task process",
    async () => {
      const p = await pidsWith(`${REPO}/tasks/export_clean_gguf.ts`, out);
      return p.length === 1 ? p : null;
    },
    60_000,
  );
  const [launcher] = await pidsWith("lib/cli/launch.ts", out);
  assert.ok(task && launcher, "the launcher and the task are running");
  return { denoTask, task, launcher, fifo: `${ckpt}/config.json` };
}

const linux = Deno.build.os === "linux" && (await exists("/proc/self/cmdline"));

Deno.test({
  name:
    "SIGKILL of deno task (or of the launcher) stops the task within seconds; SIGTERM is passed on",
  ignore: !linux,
  async fn() {
    const user = await Deno.makeTempDir({ prefix: "perm_life_" });
    const leftovers: number[] = [];
    const gone = (pid: number) => async () => ((await exists(`/proc/${pid}`)) ? null : true);
    try {
      // 1. kill -9 deno task: the launcher notices its parent is gone and stops the task.
      const a = await blockedExport(user);
      leftovers.push(a.task, a.launcher);
      Deno.kill(a.denoTask.pid, "SIGKILL");
      await a.denoTask.status;
      await waitFor("the task to exit after deno task was killed", gone(a.task), 5_000);
      await waitFor("the launcher to exit", gone(a.launcher), 5_000);

      // 2. kill -9 the launcher: the task notices its parent is gone and ends itself.
      const b = await blockedExport(user);
      leftovers.push(b.task, b.launcher);
      Deno.kill(b.launcher, "SIGKILL");
      await waitFor("the task to exit after the launcher was killed", gone(b.task), 5_000);
      await b.denoTask.output();

      // 3. SIGTERM to the launcher is passed on; the task's signal comes back as 128 + 15.
      const c = await blockedExport(user);
      leftovers.push(c.task, c.launcher);
      Deno.kill(c.launcher, "SIGTERM");
      const status = await c.denoTask.output();
      assert.equal(status.code, 143, new TextDecoder().decode(status.stderr));
      await waitFor("the task to exit after SIGTERM", gone(c.task), 5_000);
    } finally {
      for (const pid of leftovers) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch {
          // already gone, as it should be
        }
      }
      await Deno.remove(user, { recursive: true });
    }
  },
});
