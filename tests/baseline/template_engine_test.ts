/** The template language: values, sections, inverted sections, standalone lines, errors. */

import assert from "node:assert/strict";
import { renderTemplate } from "../../lib/baseline/template_engine.ts";
import { exitCodeOf } from "../../lib/errors.ts";

Deno.test("template: values and sections over arrays, objects, booleans and null", () => {
  assert.equal(renderTemplate("a {{x}} b {{ y }}", { x: "1", y: 2 }, "t"), "a 1 b 2");
  assert.equal(
    renderTemplate(
      "{{#rows}}[{{a}}{{sep}}]{{/rows}}",
      { sep: ";", rows: [{ a: "p" }, { a: "q" }] },
      "t",
    ),
    "[p;][q;]",
    "outer names are visible inside a section",
  );
  assert.equal(renderTemplate("{{#o}}{{k}}{{/o}}", { o: { k: "v" } }, "t"), "v");
  assert.equal(
    renderTemplate("{{#t}}yes{{/t}}{{#f}}no{{/f}}{{#n}}no{{/n}}{{#e}}no{{/e}}", {
      t: true,
      f: false,
      n: null,
      e: [],
    }, "t"),
    "yes",
  );
  assert.equal(
    renderTemplate("{{^n}}none{{/n}}{{^e}}empty{{/e}}{{^t}}no{{/t}}{{^l}}no{{/l}}", {
      n: null,
      e: [],
      t: true,
      l: [{}],
    }, "t"),
    "noneempty",
  );
  assert.equal(
    renderTemplate("{{#a}}{{#b}}{{x}}{{y}}{{/b}}{{/a}}", {
      y: "0",
      a: [{ b: [{ x: "1" }, { x: "2", y: "3" }] }],
    }, "t"),
    "1023",
  );
});

Deno.test("template: a section tag alone on its line leaves no blank line", () => {
  const t = "| h |\n|---|\n{{#rows}}\n| {{v}} |\n{{/rows}}\n{{^rows}}\n  (none)\n{{/rows}}\nend\n";
  assert.equal(
    renderTemplate(t, { rows: [{ v: "a" }, { v: "b" }] }, "t"),
    "| h |\n|---|\n| a |\n| b |\nend\n",
  );
  assert.equal(renderTemplate(t, { rows: [] }, "t"), "| h |\n|---|\n  (none)\nend\n");
  // Tags that share a line with text are not standalone.
  assert.equal(renderTemplate("x {{#t}}y{{/t}} z\n", { t: true }, "t"), "x y z\n");
});

Deno.test("template: unknown names, unbalanced sections and lists used as values fail with the line (exit 4)", () => {
  const cases: [string, RegExp][] = [
    ["a\n{{nope}}", /t: line 2: unknown placeholder \{\{nope\}\}/],
    ["{{#a}}x", /line 1: \{\{#a\}\} is never closed/],
    ["{{#a}}x{{/b}}", /\{\{\/b\}\} closes \{\{#a\}\}/],
    ["x{{/a}}", /\{\{\/a\}\} closes nothing/],
    ["{{rows}}", /is a list or section, not a value/],
  ];
  for (const [t, why] of cases) {
    let caught: unknown;
    try {
      renderTemplate(t, { a: true, rows: [] }, "t");
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof Error, t);
    assert.match(caught.message, why);
    assert.equal(exitCodeOf(caught), 4);
  }
});
