import assert from "node:assert/strict";
import { exitCodesMarkdown, tasksMarkdown } from "../../tools/gen_reference.ts";
import { TASK_SPECS } from "../../lib/cli/specs.ts";
import { EXIT } from "../../lib/errors.ts";

Deno.test("docs/reference/exit-codes.md is generated from the one exit-code table", async () => {
  assert.equal(
    await Deno.readTextFile("docs/reference/exit-codes.md"),
    exitCodesMarkdown(),
    "stale: run deno run -A tools/gen_reference.ts",
  );
  // The README lists the same codes.
  const readme = await Deno.readTextFile("README.md");
  for (const code of Object.values(EXIT)) {
    assert.match(readme, new RegExp(`^\\|\\s*${code}\\s*\\|`, "m"), `README exit code ${code}`);
  }
});

Deno.test("docs/reference/tasks.md holds every task's --help as it is now", async () => {
  assert.equal(
    await Deno.readTextFile("docs/reference/tasks.md"),
    tasksMarkdown(),
    "stale: run deno run -A tools/gen_reference.ts",
  );
  // Every model-* task in deno.json is documented, in the reference and in the README.
  const tasks = Object.keys(JSON.parse(await Deno.readTextFile("deno.json")).tasks).filter((t) =>
    t.startsWith("model-")
  );
  const readme = await Deno.readTextFile("README.md");
  for (const t of tasks) {
    assert.ok(t in TASK_SPECS, `${t} has no spec in lib/cli/specs.ts`);
    assert.ok(readme.includes(`\`${t}`), `${t} missing from README.md`);
  }
});
