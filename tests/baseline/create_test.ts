/**
 * The fixture's baseline against independent references: sha256 of the
 * file bytes, the PyTorch reference.json ids, norm RMS computed straight from
 * the BF16 checkpoint, metadata as @huggingface/gguf reads it. Plus reading,
 * writing and rendering it.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { hfGguf } from "../../deps.ts";
import { createBaseline } from "../../lib/baseline/create.ts";
import { renderBaselineMarkdown } from "../../lib/baseline/markdown.ts";
import { BASELINE_SCHEMA_ID } from "../../lib/baseline/types.ts";
import { baselinePaths, readBaseline, writeBaseline } from "../../lib/baseline/files.ts";
import { exitCodeOf } from "../../lib/errors.ts";
import { TOOL } from "../../lib/provenance/meta.ts";
import { PROBE_PASSAGE } from "../../lib/validate/linguistic.ts";
import { scratchDir } from "../validate/_variants.ts";
import { FIXTURE_TOKENIZER, fixtureBaseline, readBf16Tensor, rmsOf } from "./_fixture.ts";
import { elements, parseXml } from "./_xml.ts";

const REFERENCE = JSON.parse(await Deno.readTextFile("fixtures/tiny-bitnet/reference.json"));
const sha256 = async (path: string) =>
  createHash("sha256").update(await Deno.readFile(path)).digest("hex");

Deno.test("baseline: fingerprint, tokenizer hash and tool are the file's own", async () => {
  const { baseline: b, ggufPath } = await fixtureBaseline();
  assert.equal(b.schema, BASELINE_SCHEMA_ID);
  assert.equal(b.model.fingerprint, `sha256-${await sha256(ggufPath)}`);
  assert.equal(
    b.model.fingerprint + "\n",
    await Deno.readTextFile(ggufPath.replace(/\.gguf$/, ".fingerprint")),
  );
  assert.equal(b.model.file, "clean-f16.gguf");
  assert.equal(b.model.sizeBytes, (await Deno.stat(ggufPath)).size);
  assert.deepEqual(b.tokenizer, {
    file: "tokenizer.json",
    sha256: await sha256(FIXTURE_TOKENIZER),
  });
  assert.deepEqual(b.tool, { name: TOOL.name, version: TOOL.version });
  assert.equal(b.validation.exitCode, 0);
});

Deno.test("baseline: probe ids equal the PyTorch reference; the NLL is measured on the shipped passage", async () => {
  const { baseline: b, report } = await fixtureBaseline();
  const ref = REFERENCE.prompts[0];
  assert.equal(b.probe!.prompt, ref.prompt);
  assert.deepEqual(b.probe!.promptIds, ref.prompt_ids);
  assert.deepEqual(b.probe!.generatedIds, ref.bitnet.greedy_ids.slice(0, 8));
  assert.equal(b.nll!.passage, PROBE_PASSAGE);
  assert.equal(b.nll!.logVocab, Math.log(2048));
  // Reused from the validation report, not recomputed.
  assert.equal(b.nll!.meanNll, report.probe!.nll!.meanNll);
  assert.ok(b.nll!.meanNll > 0 && b.nll!.meanNll < 0.6 * Math.log(2048));
});

Deno.test("baseline: every norm and projection with statistics equal to the BF16 checkpoint's", async () => {
  const { baseline: b } = await fixtureBaseline();
  assert.equal(b.norms.length, 4 * 4 + 1);
  assert.equal(b.projections.length, 4 * 7);
  assert.deepEqual(b.otherTensors.map((t) => t.name), ["token_embd.weight"]);
  const st = "fixtures/tiny-bitnet/model.safetensors";
  const pairs: [string, string][] = [
    ["blk.0.attn_norm.weight", "model.layers.0.input_layernorm.weight"],
    ["blk.1.ffn_norm.weight", "model.layers.1.post_attention_layernorm.weight"],
    ["blk.3.ffn_sub_norm.weight", "model.layers.3.mlp.ffn_sub_norm.weight"],
    ["output_norm.weight", "model.norm.weight"],
  ];
  for (const [gguf, hf] of pairs) {
    const values = await readBf16Tensor(st, hf);
    const n = b.norms.find((x) => x.name === gguf)!;
    assert.equal(n.type, "F32", gguf);
    assert.equal(n.count, values.length, gguf);
    assert.ok(
      Math.abs(n.rms! - rmsOf(values)) <= 1e-12 * n.rms!,
      `${gguf} rms ${n.rms} vs ${rmsOf(values)}`,
    );
    assert.equal(n.min, Math.min(...values), gguf);
    assert.equal(n.max, Math.max(...values), gguf);
    assert.equal(n.distinct, new Set(values).size, gguf);
  }
  const q = b.projections.find((p) => p.name === "blk.0.attn_q.weight")!;
  assert.deepEqual(q.shape, [256, 256]);
  assert.equal(q.kind, "attn_q");
  // Ternary: the extremes are ±s and the three shares sum to 1.
  assert.equal(q.max, q.scale);
  assert.equal(q.min, -q.scale!);
  assert.ok(Math.abs(q.trits!.neg + q.trits!.zero + q.trits!.pos - 1) < 1e-12);
  assert.deepEqual(b.model.tensorTypes, { F16: 29, F32: 17 });
});

Deno.test("baseline: metadata summary agrees with @huggingface/gguf", async () => {
  const { baseline: b, ggufPath } = await fixtureBaseline();
  const theirs = await hfGguf(ggufPath, { allowLocalFile: true });
  const meta = theirs.metadata as unknown as Record<string, unknown>;
  const keys = Object.keys(b.metadata);
  assert.equal(keys.length, Number(meta.kv_count));
  for (const k of keys) {
    const mine = b.metadata[k], v = meta[k];
    if (Array.isArray(v)) {
      const hash = createHash("sha256").update(JSON.stringify(v)).digest("hex").slice(0, 16);
      assert.match(String(mine), new RegExp(`^[A-Z0-9]+\\[${v.length}\\] sha256:${hash}$`), k);
    } else if (typeof v === "string" && v.length > 120) {
      assert.match(String(mine), new RegExp(`^string of ${v.length} chars`), k);
    } else {
      assert.equal(mine, typeof v === "bigint" ? Number(v) : v, k);
    }
  }
  assert.equal(b.metadata["general.architecture"], "bitnet-b1.58");
  assert.match(String(b.metadata["tokenizer.ggml.tokens"]), /^STRING\[2048\] /);
});

Deno.test("baseline: a report given by the caller is reused, not recomputed", async () => {
  const { report, ggufPath } = await fixtureBaseline();
  const marked = { ...report, probe: { ...report.probe!, text: "reused report" } };
  const { baseline } = await createBaseline({
    ggufPath,
    tokenizerPath: null,
    report: marked,
    fingerprint: "sha256-" + "0".repeat(64),
  });
  assert.equal(baseline.probe!.text, "reused report");
  assert.equal(baseline.model.fingerprint, "sha256-" + "0".repeat(64));
  assert.deepEqual(baseline.tokenizer, { file: null, sha256: null });
});

Deno.test("baseline: unreadable inputs fail before any validation (exit 3)", async () => {
  const { ggufPath } = await fixtureBaseline();
  for (
    const opts of [
      { ggufPath: "no/such.gguf", tokenizerPath: null },
      { ggufPath, tokenizerPath: "no/such/tokenizer.json" },
    ]
  ) {
    const e = await createBaseline({ ...opts, skipProbe: true }).then(() => null, (x) => x);
    assert.equal(exitCodeOf(e), 3, String(e));
  }
});

Deno.test("baseline files: default and given paths; .md, .json, .svg written together and read back", async () => {
  assert.deepEqual(baselinePaths("m/clean-f16.gguf"), {
    markdown: "m/clean-f16.baseline.md",
    json: "m/clean-f16.baseline.json",
    svg: "m/clean-f16.baseline.svg",
  });
  assert.equal(baselinePaths("m/x.gguf", "docs/baselines/tiny.md").svg, "docs/baselines/tiny.svg");
  assert.equal(
    exitCodeOf((() => {
      try {
        baselinePaths("m/x.gguf", "out.txt");
      } catch (e) {
        return e;
      }
    })()),
    2,
  );

  const { baseline } = await fixtureBaseline();
  const dir = await scratchDir("baseline-");
  const paths = baselinePaths(`${dir}/clean-f16.gguf`);
  await writeBaseline(baseline, paths);
  assert.deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort(), [
    "clean-f16.baseline.json",
    "clean-f16.baseline.md",
    "clean-f16.baseline.svg",
  ]);
  assert.deepEqual(await readBaseline(paths.json), JSON.parse(JSON.stringify(baseline)));
  const md = await Deno.readTextFile(paths.markdown);
  assert.ok(md.includes("](clean-f16.baseline.svg)"), "the Markdown links the chart beside it");
  const svg = parseXml(await Deno.readTextFile(paths.svg));
  assert.equal(elements(svg, "rect").filter((r) => r.attrs.get("class") === "bar").length, 17);
});

Deno.test("readBaseline: a missing file is exit 3; JSON that is not a baseline is exit 4, naming the field", async () => {
  const dir = await scratchDir("baseline-");
  assert.equal(exitCodeOf(await readBaseline(`${dir}/none.json`).catch((e) => e)), 3);
  const cases: [unknown, RegExp][] = [
    ["not json", /not valid JSON/],
    [{ schema: "clean-gguf/validate-report/1" }, /"schema" is "clean-gguf\/validate-report\/1"/],
    [{ schema: BASELINE_SCHEMA_ID, model: { fingerprint: "abc" } }, /sha256-<64 hex digits>/],
  ];
  const { baseline } = await fixtureBaseline();
  cases.push([{ ...baseline, norms: [{ name: "x" }] }, /"norms\[0\]" lacks a name or a shape/]);
  cases.push([{ ...baseline, probe: { prompt: "x" } }, /"probe" lacks promptIds/]);
  for (const [i, [value, why]] of cases.entries()) {
    const p = `${dir}/c${i}.json`;
    await Deno.writeTextFile(p, typeof value === "string" ? value : JSON.stringify(value));
    const e = await readBaseline(p).catch((x) => x);
    assert.equal(exitCodeOf(e), 4, String(e));
    assert.match(String(e), why);
  }
});

Deno.test("markdown: every section renders, no placeholder is left, numbers keep 6 digits", async () => {
  const { baseline } = await fixtureBaseline();
  const md = renderBaselineMarkdown(baseline, { chartFile: "c.svg", jsonFile: "c.json" });
  assert.ok(!md.includes("{{") && !md.includes("}}"));
  for (
    const h of [
      "## Probe",
      "## NLL on the shipped passage",
      "## Norms",
      "## Projections",
      "## Metadata",
      "## Timings",
      "## Environment",
      "## Tolerances",
    ]
  ) {
    assert.ok(md.includes(`\n${h}\n`), h);
  }
  assert.ok(md.includes(`| fingerprint | \`${baseline.model.fingerprint}\` |`));
  assert.ok(md.includes("- generated ids: `1197 46 292 275 272 931 264 1119`"));
  assert.ok(md.includes("| `blk.0.attn_norm.weight` | attn_norm | 0 | F32 | 256 | 1.01992 |"));
  assert.equal(md.match(/^\| `blk\.\d+\.[a-z_]+norm\.weight` \|/gm)?.length, 16);
  assert.ok(md.includes("No BITNET_* variable was set."));
  // No blank line inside a table (standalone section tags vanish).
  assert.ok(!/\|\n\n\|/.test(md));

  const failed = {
    ...baseline,
    probe: null,
    nll: null,
    validation: {
      ...baseline.validation,
      exitCode: 13,
      exitMeaning: "model loading failed",
      corrections: ["blk.0.attn_norm.weight: scale (policy)"],
      warnings: ["no meta.json | none"],
    },
    environment: { ...baseline.environment, variables: { BITNET_SEED: "7" } },
  };
  const md2 = renderBaselineMarkdown(failed, { chartFile: "c.svg", jsonFile: "c.json" });
  assert.ok(md2.includes("**FAILED** — validation exit 13"));
  assert.ok(md2.includes("The probe did not run"));
  assert.ok(md2.includes("- `BITNET_SEED=7`"));
  assert.ok(
    md2.includes(
      "- **runtime correction (triage only, the file is unchanged):** blk.0.attn\\_norm.weight: scale (policy)",
    ),
  );
  assert.ok(md2.includes("- warning: no meta.json \\| none"));
  assert.ok(!md.includes("runtime correction") && !md.includes("- warning:"));
});

Deno.test("markdown: numbers to 6 digits, cell and code-span text escaped", async () => {
  const { baseline } = await fixtureBaseline();
  const b = baseline;
  const norms = b.norms.map((n, i) =>
    i === 0 ? { ...n, rms: 1.0199233138016919, mean: -3.8823e-5, min: null } : n
  );
  const md = renderBaselineMarkdown({
    ...b,
    norms,
    probe: { ...b.probe!, prompt: "a`b", text: "x|y" },
    validation: { ...b.validation, warnings: ["a|b\nc*"] },
  }, { chartFile: "c.svg", jsonFile: "c.json" });
  // formatStat: 6 significant digits, exponent form when tiny, "–" when missing.
  assert.ok(
    md.includes(
      "| `blk.0.attn_norm.weight` | attn_norm | 0 | F32 | 256 | 1.01992 | -3.8823e-5 | – |",
    ),
  );
  // markdownText: pipes and emphasis escaped, line breaks as ⏎; code spans escape only the pipe.
  assert.ok(md.includes("- warning: a\\|b⏎c\\*"));
  assert.ok(md.includes('- text: `"x\\|y"`'));
  assert.ok(md.includes('- prompt: `` "a`b" ``'));
});
