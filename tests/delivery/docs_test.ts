/**
 * The documented commands work: every line of a fenced block opened with
 * ```` ```sh docs-test ```` in README.md or docs/**\/*.md is run with
 * `bash -c`, in order, from the root of a temporary copy of the repository
 * (its tracked and untracked-but-not-ignored files; outputs land in the
 * copy's models/), with BITNET_STRICT_MODE=1 unless the line sets otherwise.
 * A line must exit 0, or N when it ends with the comment `# exit N`. Lines
 * ending in `\` continue on the next; blank and comment lines are skipped.
 * A file without such blocks is fine; no block at all is a failure.
 *
 * @module
 */

import assert from "node:assert/strict";
import { copyRepository, REPO } from "./_scan.ts";
import { userEnv } from "./_user.ts";

/** One documented command. */
export interface DocCommand {
  /** Repository-relative Markdown file. */
  file: string;
  /** 1-based line of the command's first line. */
  line: number;
  command: string;
  /** Exit code the command must return. */
  expectExit: number;
}

/** A fence line: up to 3 spaces, then 3+ backticks or tildes, then the info string. */
const FENCE = /^ {0,3}(`{3,}|~{3,})(.*)$/;

/**
 * The commands of the `sh docs-test` blocks of one Markdown text. Fences
 * follow CommonMark: a block closes on a fence of its own character at least
 * as long, so a docs-test block shown inside a longer fence is not run.
 *
 * @example
 * ```ts
 * docCommands("a.md", "```sh docs-test\ndeno task ok\n```"); // [{ file: "a.md", line: 2, ... }]
 * ```
 */
export function docCommands(file: string, markdown: string): DocCommand[] {
  const commands: DocCommand[] = [];
  let fence: { marker: string; test: boolean; line: number } | undefined;
  let pending: { line: number; text: string } | undefined;
  markdown.split("\n").forEach((raw, i) => {
    const text = raw.replace(/\r$/, "");
    const m = FENCE.exec(text);
    if (!fence) {
      if (m) {
        const info = m[2]!.trim().split(/\s+/);
        fence = {
          marker: m[1]!,
          test: info.length === 2 && info[0] === "sh" && info[1] === "docs-test",
          line: i + 1,
        };
      }
      return;
    }
    const closes = m !== null && m[2]!.trim() === "" && m[1]![0] === fence.marker[0] &&
      m[1]!.length >= fence.marker.length;
    if (closes && !pending) {
      fence = undefined;
      return;
    }
    if (!fence.test) return;
    const joined = pending ? `${pending.text}\n${text}` : text;
    const start = pending?.line ?? i + 1;
    if (/\\$/.test(text)) {
      pending = { line: start, text: joined };
      return;
    }
    pending = undefined;
    const trimmed = joined.trim();
    if (trimmed === "" || trimmed.startsWith("#")) return;
    const exit = /#\s*exit\s+(\d+)\s*$/.exec(trimmed);
    commands.push({
      file,
      line: start,
      command: trimmed,
      expectExit: exit ? Number(exit[1]) : 0,
    });
  });
  if (fence?.test) throw new Error(`${file}:${fence.line}: a sh docs-test block is not closed`);
  return commands;
}

/** README.md and every .md file under docs/, README first. */
function markdownFiles(): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of Deno.readDirSync(`${REPO}/${rel}`)) {
      const path = `${rel}/${e.name}`;
      if (e.isDirectory) walk(path);
      else if (e.isFile && e.name.endsWith(".md")) out.push(path);
    }
  };
  walk("docs");
  return ["README.md", ...out.sort()];
}

Deno.test("docCommands: tagged blocks only, continuations, comments, # exit N", () => {
  const md = [
    "```sh",
    "not run",
    "```",
    "```sh docs-test",
    "# a comment",
    "",
    "deno task model-export --quiet",
    "BITNET_FIX_LN_SCALE=1 deno task model-validate m.gguf # exit 16",
    "deno task model-probe m.gguf \\",
    '  "The capital of France is" 8',
    "```",
    "```ts",
    "const notRun = 1;",
    "```",
  ].join("\n");
  assert.deepEqual(docCommands("x.md", md), [
    { file: "x.md", line: 7, command: "deno task model-export --quiet", expectExit: 0 },
    {
      file: "x.md",
      line: 8,
      command: "BITNET_FIX_LN_SCALE=1 deno task model-validate m.gguf # exit 16",
      expectExit: 16,
    },
    {
      file: "x.md",
      line: 9,
      command: 'deno task model-probe m.gguf \\\n  "The capital of France is" 8',
      expectExit: 0,
    },
  ]);
  assert.deepEqual(docCommands("y.md", "no blocks here\n"), []);
  // A docs-test block shown as an example inside a longer fence is not run.
  const shown = [
    "````md",
    "```sh docs-test",
    "rm -rf /",
    "```",
    "````",
    "```sh docs-test",
    "true",
    "```",
  ];
  assert.deepEqual(docCommands("w.md", shown.join("\n")).map((c) => c.command), ["true"]);
  assert.deepEqual(docCommands("v.md", "~~~sh docs-test\nls\n~~~\n").map((c) => c.line), [2]);
  assert.throws(() => docCommands("z.md", "```sh docs-test\nls\n"), /not closed/);
});

Deno.test("documented commands run on the fixture with the documented exit codes", async (t) => {
  const commands: DocCommand[] = [];
  for (const file of markdownFiles()) {
    commands.push(...docCommands(file, await Deno.readTextFile(`${REPO}/${file}`)));
  }
  assert.ok(commands.length > 0, "no ```sh docs-test block in README.md or docs/");

  const copy = await Deno.makeTempDir({ prefix: "docs_test_" });
  try {
    await copyRepository(copy);
    for (const c of commands) {
      await t.step(`${c.file}:${c.line}: ${c.command}`, async () => {
        const out = await new Deno.Command("bash", {
          args: ["-c", c.command],
          cwd: copy,
          clearEnv: true,
          env: userEnv({ BITNET_STRICT_MODE: "1" }),
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
          // A fixture run takes seconds; a hung command must not hang CI.
          signal: AbortSignal.timeout(180_000),
        }).output();
        const dec = new TextDecoder();
        assert.equal(
          out.code,
          c.expectExit,
          `${c.file}:${c.line}: \`${c.command}\` exited ${out.code}, documented ${c.expectExit}\n` +
            `--- stdout\n${dec.decode(out.stdout).slice(-2000)}\n--- stderr\n${
              dec.decode(out.stderr).slice(-2000)
            }`,
        );
      });
    }
  } finally {
    await Deno.remove(copy, { recursive: true });
  }
});

Deno.test("README and docs name no file outside the repository, nor another project", async () => {
  const outside =
    /FORMATS\.md|ARCHITECTURE\.md|PEERS\.md|\/work\/shared|\.\.\/shared\/|project (this|that) (one|tool) replaces|this tool replaces/;
  const found: string[] = [];
  for (const file of markdownFiles()) {
    (await Deno.readTextFile(`${REPO}/${file}`)).split("\n").forEach((line, i) => {
      if (outside.test(line)) found.push(`${file}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(found, []);
});

Deno.test("README: the test suite's duration, --arch-name where llama.cpp is named, general.name where byte-identical exports are", async () => {
  const readme = await Deno.readTextFile(`${REPO}/README.md`);
  assert.match(readme, /Run the tests \(about \d+ minutes? on 2 cores/);
  assert.match(
    readme,
    /upstream llama\.cpp knows\s+BitNet b1\.58 only as the architecture `bitnet`: export with `--arch-name bitnet`/,
  );
  assert.match(readme, /byte-identical[\s\S]{0,600}`general\.name`[\s\S]{0,300}_name_or_path/);
  for (const file of ["docs/howto/export-clean-gguf.md", "docs/reference/files.md"]) {
    const text = await Deno.readTextFile(`${REPO}/${file}`);
    assert.match(text, /general\.name/, `${file} explains general.name`);
  }
});
