/**
 * NaN and ±inf are refused everywhere, with the tensor named, norms included:
 * the export (whatever --allow-overflow says; F16 overflow keeps its own
 * error), the quantizer, and validate, whose figures never show a tensor of
 * NaN as 0/0/0.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { NonFiniteError, OverflowError } from "../../lib/errors.ts";
import { exportCleanGguf, type ExportOptions } from "../../lib/export/export.ts";
import { openGguf } from "../../lib/gguf/reader.ts";
import { quantizeGguf } from "../../lib/quantize/quantize.ts";
import { runProbe } from "../../lib/inference/probe.ts";
import { normTable } from "../../lib/validate/report.ts";
import { reportStyle } from "../../lib/cli/report_style.ts";
import { validateGguf } from "../../lib/validate/validate.ts";
import { FIXTURE_DIR } from "../_models.ts";

const root = await Deno.makeTempDir({ prefix: "non_finite_" });
const FIXTURE = join(Deno.cwd(), FIXTURE_DIR);
const BF16_NAN = 0x7fc0, BF16_INF = 0x7f80, BF16_NEG_INF = 0xff80, BF16_1E5 = 0x47c3;

async function entries(dir: string): Promise<string[]> {
  try {
    return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name);
  } catch {
    return [];
  }
}

/** A copy of the fixture checkpoint whose tensor `name` has `bits` at `indices` (all: every element). */
async function checkpointWith(
  label: string,
  name: string,
  bits: number,
  indices: number[] | "all",
): Promise<string> {
  const bytes = await Deno.readFile(join(FIXTURE, "model.safetensors"));
  const view = new DataView(bytes.buffer);
  const headerLength = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  const entry = header[name] as { dtype: string; data_offsets: [number, number] };
  assert.equal(entry.dtype, "BF16");
  const start = 8 + headerLength + entry.data_offsets[0];
  const n = (entry.data_offsets[1] - entry.data_offsets[0]) / 2;
  for (const i of indices === "all" ? Array.from({ length: n }, (_, i) => i) : indices) {
    view.setUint16(start + 2 * i, bits, true);
  }
  const dir = join(root, label);
  await Deno.mkdir(dir);
  await Deno.writeFile(join(dir, "model.safetensors"), bytes);
  for (const f of ["config.json", "tokenizer.json", "tokenizer_config.json"]) {
    await Deno.symlink(join(FIXTURE, f), join(dir, f));
  }
  return dir;
}

async function exportOf(dir: string, opts: Partial<ExportOptions> = {}) {
  return await exportCleanGguf({ modelDir: dir, outDir: join(dir, "out"), quiet: true, ...opts });
}

Deno.test("export: NaN or ±inf in a norm or the embeddings is refused naming the tensor, with any --allow-overflow; nothing written", async () => {
  const cases: [string, string, number, number[] | "all", Partial<ExportOptions>, RegExp][] = [
    [
      "nan-norm",
      "model.layers.1.post_attention_layernorm.weight",
      BF16_NAN,
      "all",
      {},
      /model\.layers\.1\.post_attention_layernorm\.weight \(blk\.1\.ffn_norm\.weight\) holds 256 NaN/,
    ],
    [
      "inf-norm-clamp",
      "model.norm.weight",
      BF16_INF,
      [7],
      { allowOverflow: "clamp" },
      /model\.norm\.weight \(output_norm\.weight\) holds 1 NaN or ±inf/,
    ],
    [
      "inf-embd-f32",
      "model.embed_tokens.weight",
      BF16_NEG_INF,
      [3, 5000],
      { outType: "f32" },
      /model\.embed_tokens\.weight \(token_embd\.weight\) holds 2 NaN or ±inf/,
    ],
  ];
  for (const [label, name, bits, at, opts, message] of cases) {
    const dir = await checkpointWith(label, name, bits, at);
    await assert.rejects(exportOf(dir, opts), (e: unknown) => {
      assert.ok(e instanceof NonFiniteError, `${label}: ${e}`);
      assert.equal(e.exitCode, 4);
      assert.match(e.message, message, label);
      return true;
    });
    assert.deepEqual(await entries(join(dir, "out")), [], `${label}: nothing written`);
  }
});

Deno.test("export: F16 overflow (finite in BF16) keeps its own error, and clamps when asked", async () => {
  const dir = await checkpointWith("overflow", "model.embed_tokens.weight", BF16_1E5, [0]);
  await assert.rejects(exportOf(dir), OverflowError);
  const r = await exportOf(dir, { allowOverflow: "clamp" });
  const row = r.meta.tensors.find((t) => t.gguf_name === "token_embd.weight")!;
  assert.equal(row.max, 65504);
});

/** The fixture's export with `name`'s payload rewritten by `edit` (as F32 or F16 values). */
async function ggufWith(
  label: string,
  name: string,
  edit: (values: Float32Array | Uint16Array) => void,
) {
  const { ggufPath } = await exportCleanGguf({
    modelDir: FIXTURE,
    outDir: join(root, `${label}-src`),
    quiet: true,
  });
  const g = await openGguf(ggufPath);
  const t = g.tensor(name);
  g.close();
  const bytes = await Deno.readFile(ggufPath);
  const payload = bytes.slice(t.fileOffset, t.fileOffset + t.nbytes);
  const values = t.type === 0 ? new Float32Array(payload.buffer) : new Uint16Array(payload.buffer);
  edit(values);
  bytes.set(payload, t.fileOffset);
  const path = join(root, `${label}.gguf`);
  await Deno.writeFile(path, bytes);
  return path;
}

Deno.test("quantize: a NaN norm or an inf in token_embd is refused naming the tensor; nothing written", async () => {
  const nanNorm = await ggufWith("q-nan-norm", "blk.2.attn_norm.weight", (v) => v.fill(NaN));
  const infEmbd = await ggufWith("q-inf-embd", "token_embd.weight", (v) => (v[100] = 0x7c00));
  for (
    const [input, name] of [[nanNorm, "blk.2.attn_norm.weight"], [infEmbd, "token_embd.weight"]]
  ) {
    const outDir = join(root, `${name}-quantized`);
    await assert.rejects(quantizeGguf({ input: input!, outDir }), (e: unknown) => {
      assert.ok(e instanceof NonFiniteError, `${name}: ${e}`);
      assert.match(
        e.message,
        new RegExp(`${input}: tensor ${name!.replaceAll(".", "\\.")} holds \\d+ NaN`),
      );
      return true;
    });
    assert.deepEqual(await entries(outDir), [], `${name}: nothing written`);
  }
});

Deno.test("validate: an all-NaN norm fails naming it; its figures are never shown as 0/0/0", async () => {
  const path = await ggufWith("v-nan-norm", "blk.1.ffn_norm.weight", (v) => v.fill(NaN));
  const report = await validateGguf({ ggufPath: path, metaPath: null, skipProbe: true });
  assert.notEqual(report.exitCode, 0);
  const finding = report.norms.find((n) => n.name === "blk.1.ffn_norm.weight")!;
  assert.equal(finding.verdict, "unusable");
  const messages = finding.checks.map((c) => `${c.status} ${c.id}: ${c.message}`);
  assert.ok(messages.includes("fail finite: blk.1.ffn_norm.weight has 256 NaN/inf values of 256"));
  // The figures leave NaN out: no judgement may rest on them ("all zero", "RMS 0").
  assert.deepEqual(messages.filter((m) => /all zero|RMS 0 /.test(m)), [], messages.join("\n"));
  const row = normTable(report.norms, reportStyle({ color: false })).split("\n")
    .find((l) => l.startsWith("blk.1.ffn_norm.weight"))!;
  assert.match(row, /256\s+NaN\/inf\s+NaN\/inf\s+NaN\/inf\s+NaN\/inf/);
});

Deno.test("probe: the engine refuses a norm holding NaN, naming it", async () => {
  const path = await ggufWith("p-nan-norm", "blk.3.attn_sub_norm.weight", (v) => (v[9] = NaN));
  await assert.rejects(runProbe({ modelPath: path, maxTokens: 1 }), (e: unknown) => {
    assert.ok(e instanceof NonFiniteError, String(e));
    assert.equal(e.message, `${path}: tensor blk.3.attn_sub_norm.weight element 9 is NaN`);
    return true;
  });
});

Deno.test("remove the temporary files", async () => {
  await Deno.remove(root, { recursive: true });
});
