/**
 * The quantizer end to end, on the fixture exported to F16 and on generated
 * Llama checkpoints:
 * - I2_S, TQ2_0 and TQ1_0 files run like the PyTorch reference (reference.json:
 *   greedy ids over the stable prefix, top-1 at the last prompt position,
 *   top-10 logits within 0.1);
 * - norms, token_embd and output are byte-identical to the input;
 * - metadata is copied unchanged except general.file_type and
 *   general.quantization_version (checked with our reader AND the independent
 *   @huggingface/gguf reader);
 * - projection payloads hold exactly the input's trits and scale, in the byte
 *   layouts of FORMATS.md §5/§6 re-derived here;
 * - meta.json says what each tensor became and why, and `verifyGguf` accepts
 *   the fingerprint, meta.json and gguf-hash manifest;
 * - non-ternary projections are refused (exit 17) unless --ternarize; rows
 *   that do not fit the block are refused naming the tensor; nothing is left
 *   behind on failure.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { hfGguf } from "../../deps.ts";
import { EXIT, NotTernaryError, UnsupportedError, UsageError } from "../../lib/errors.ts";
import { f16ToF32, f32ToF16 } from "../../lib/codecs/float.ts";
import { decodeBlocks, TQ1_0_LAYOUT } from "../../lib/codecs/ternary_blocks.ts";
import { exportCleanGguf } from "../../lib/export/export.ts";
import { type GgufFile, openGguf } from "../../lib/gguf/reader.ts";
import { GgmlType } from "../../lib/gguf/types.ts";
import { InferenceEngine } from "../../lib/inference/engine.ts";
import { verifyGguf } from "../../lib/provenance/verify.ts";
import { quantizeGguf, type QuantizeResult } from "../../lib/quantize/quantize.ts";
import type { QuantTypeName } from "../../lib/quantize/formats.ts";
import { FIXTURE_DIR, writeRandomLlama } from "../_models.ts";
import { FuzzRng } from "../_fuzz.ts";
import { writeModelGguf } from "../inference/_gguf_builder.ts";
import { assertMatchesReference } from "../_reference.ts";

const tmp = await Deno.makeTempDir({ prefix: "quantize-test-" });
const once = new Map<string, Promise<unknown>>();
function cached<T>(key: string, make: () => Promise<T>): Promise<T> {
  let p = once.get(key) as Promise<T> | undefined;
  if (!p) once.set(key, p = make());
  return p;
}

/** The fixture exported to F16 (the quantizer's input). */
const fixtureF16 = () =>
  cached(
    "f16",
    async () =>
      (await exportCleanGguf({ modelDir: FIXTURE_DIR, outDir: join(tmp, "f16"), quiet: true }))
        .ggufPath,
  );

/** The fixture quantized to `type`, once. */
const fixtureQuantized = (type: QuantTypeName) =>
  cached(
    `q-${type}`,
    async () => await quantizeGguf({ input: await fixtureF16(), outDir: join(tmp, type), type }),
  );

/** A random Llama checkpoint (untied lm_head) exported to F16. */
const llamaF16 = (hidden: number, heads: number) =>
  cached(`llama-${hidden}`, async () => {
    const dir = join(tmp, `llama-${hidden}-hf`);
    await writeRandomLlama(dir, { seed: hidden, hidden, heads, kvHeads: 2, ff: 256 });
    return (await exportCleanGguf({
      modelDir: dir,
      outDir: join(tmp, `llama-${hidden}`),
      quiet: true,
    }))
      .ggufPath;
  });

async function withGguf<T>(path: string, use: (g: GgufFile) => Promise<T>): Promise<T> {
  const g = await openGguf(path);
  try {
    return await use(g);
  } finally {
    g.close();
  }
}

const PROJECTION =
  /^blk\.\d+\.(attn_q|attn_k|attn_v|attn_output|ffn_gate|ffn_up|ffn_down)\.weight$/;
const TYPES: QuantTypeName[] = ["i2_s", "tq2_0", "tq1_0"];
const GGML_OF: Record<QuantTypeName, number> = { i2_s: 36, tq2_0: 35, tq1_0: 34 };
const FILE_TYPE_OF: Record<QuantTypeName, number> = { i2_s: 40, tq2_0: 37, tq1_0: 36 };

for (const type of TYPES) {
  Deno.test(`fixture ${type}: inference meets the PyTorch reference bar`, async () => {
    const { ggufPath } = await fixtureQuantized(type);
    await withGguf(ggufPath, async (g) => {
      assert.ok(g.tensors.some((t) => t.type === GGML_OF[type]), "projections are quantized");
      const engine = await InferenceEngine.load(g);
      try {
        assert.equal(engine.ternarizedAtLoad.length, 0);
        assertMatchesReference(engine, type);
      } finally {
        engine.close();
      }
    });
  });
}

/** Asserts that every tensor the rules keep has the input's exact bytes; returns their names. */
async function assertKeptIdentical(input: string, output: string): Promise<string[]> {
  return await withGguf(input, (a) =>
    withGguf(output, async (b) => {
      assert.deepEqual(b.tensors.map((t) => t.name), a.tensors.map((t) => t.name));
      const kept: string[] = [];
      for (const ta of a.tensors) {
        if (PROJECTION.test(ta.name)) continue;
        const tb = b.tensor(ta.name);
        assert.equal(tb.type, ta.type, ta.name);
        assert.deepEqual(tb.ne, ta.ne, ta.name);
        assert.deepEqual(await b.readTensor(tb), await a.readTensor(ta), `${ta.name} bytes`);
        kept.push(ta.name);
      }
      return kept;
    }));
}

Deno.test("fixture: norms and token_embd are byte-identical in every quantized file", async () => {
  const input = await fixtureF16();
  for (const type of TYPES) {
    const kept = await assertKeptIdentical(input, (await fixtureQuantized(type)).ggufPath);
    // 4 layers × 4 norms + output_norm + token_embd (tied: no output.weight).
    assert.equal(kept.length, 18, type);
    assert.ok(kept.includes("token_embd.weight") && kept.includes("output_norm.weight"));
  }
});

Deno.test("llama (untied): output.weight, token_embd and norms are byte-identical after --ternarize", async () => {
  const input = await llamaF16(256, 4);
  const r = await quantizeGguf({ input, outDir: join(tmp, "llama-256-i2s"), ternarize: true });
  const kept = await assertKeptIdentical(input, r.ggufPath);
  assert.ok(kept.includes("output.weight"));
  assert.ok(kept.includes("token_embd.weight"));
  assert.equal(kept.length, 2 + 1 + 2 * 2); // output, token_embd, output_norm, 2 norms × 2 layers
});

Deno.test("fixture: metadata copied unchanged except file_type and quantization_version", async () => {
  const input = await fixtureF16();
  for (const type of TYPES) {
    const { ggufPath } = await fixtureQuantized(type);
    await withGguf(input, (a) =>
      withGguf(ggufPath, (b) => {
        const keysA = [...a.metadata.keys()];
        const keysB = [...b.metadata.keys()];
        // Same keys in the same order, quantization_version inserted after file_type.
        const at = keysA.indexOf("general.file_type");
        assert.deepEqual(keysB, [
          ...keysA.slice(0, at + 1),
          "general.quantization_version",
          ...keysA.slice(at + 1),
        ]);
        for (const [key, kv] of a.metadata) {
          const got = b.kv(key)!;
          if (key === "general.file_type") {
            assert.equal(got.type, 4);
            assert.equal(got.value, FILE_TYPE_OF[type]);
            continue;
          }
          assert.equal(got.type, kv.type, key);
          assert.equal(got.arrayType, kv.arrayType, key);
          assert.deepEqual(got.value, kv.value, key);
        }
        assert.equal(b.getNumber("general.quantization_version"), 2);
        assert.equal(b.kv("general.quantization_version")!.type, 4);
        return Promise.resolve();
      }));

    // The independent reader sees the same header.
    const theirs = await hfGguf(ggufPath, { allowLocalFile: true });
    const m = theirs.metadata as Record<string, unknown>;
    assert.equal(Number(m["general.file_type"]), FILE_TYPE_OF[type]);
    assert.equal(Number(m["general.quantization_version"]), 2);
    assert.equal(m["general.architecture"], "bitnet-b1.58");
    for (const t of theirs.tensorInfos) {
      const isProj = PROJECTION.test(t.name);
      assert.equal(
        Number(t.dtype),
        isProj ? GGML_OF[type] : t.name === "token_embd.weight" ? 1 : 0,
        t.name,
      );
      assert.equal(Number(t.offset) % 32, 0, `${t.name} aligned`);
    }
  }
});

/** Input trits and the scale of an F16 ternary tensor, decoded here from the raw bits. */
function f16Ternary(bytes: Uint8Array): { trits: Int8Array; scaleBits: number } {
  const u16 = new Uint16Array(bytes.slice().buffer);
  let scaleBits = 0;
  const trits = new Int8Array(u16.length);
  for (let i = 0; i < u16.length; i++) {
    const b = u16[i]!;
    if ((b & 0x7fff) === 0) continue;
    if (scaleBits === 0) scaleBits = b & 0x7fff;
    assert.equal(b & 0x7fff, scaleBits, "input is ternary");
    trits[i] = b & 0x8000 ? -1 : 1;
  }
  return { trits, scaleBits };
}

/** I2_S bytes written out from FORMATS.md §5, independently of lib/codecs/i2s.ts. */
function i2sByHand(trits: Int8Array, scale: number): Uint8Array {
  const n = trits.length;
  const out = new Uint8Array(n / 4 + 32);
  for (let j = 0; j < n; j++) {
    const code = trits[j] === -1 ? 0 : trits[j] === 0 ? 1 : 2;
    const b = Math.floor(j / 128), k = j % 128;
    out[32 * b + (k % 32)]! |= code << (6 - 2 * Math.floor(k / 32));
  }
  new DataView(out.buffer).setFloat32(n / 4, scale, true);
  return out;
}

/** TQ2_0 bytes from FORMATS.md §6, independently of lib/codecs/tq2_0.ts. */
function tq2ByHand(trits: Int8Array, scaleBits: number): Uint8Array {
  const nb = trits.length / 256;
  const out = new Uint8Array(nb * 66);
  for (let b = 0; b < nb; b++) {
    let nonzero = false;
    for (let e = 0; e < 256; e++) {
      const t = trits[256 * b + e]!;
      if (t !== 0) nonzero = true;
      const h = e >> 7, r = e & 127, m = r & 31, n = r >> 5;
      out[66 * b + 32 * h + m]! |= (t + 1) << (2 * n);
    }
    if (nonzero) {
      out[66 * b + 64] = scaleBits & 0xff;
      out[66 * b + 65] = scaleBits >> 8;
    }
  }
  return out;
}

Deno.test("fixture: projection payloads hold exactly the input's trits and scale", async () => {
  const input = await fixtureF16();
  const outputs = {
    i2_s: (await fixtureQuantized("i2_s")).ggufPath,
    tq2_0: (await fixtureQuantized("tq2_0")).ggufPath,
    tq1_0: (await fixtureQuantized("tq1_0")).ggufPath,
  };
  await withGguf(input, async (a) => {
    const files = await Promise.all(TYPES.map((t) => openGguf(outputs[t])));
    try {
      const [i2, tq2, tq1] = files as [GgufFile, GgufFile, GgufFile];
      let checked = 0;
      for (const ta of a.tensors) {
        if (!PROJECTION.test(ta.name)) continue;
        const { trits, scaleBits } = f16Ternary(await a.readTensor(ta));
        const n = trits.length;
        const s = f16ToF32(scaleBits);
        const i2t = i2.tensor(ta.name);
        assert.equal(i2t.nbytes, n / 4 + 32, `${ta.name}: n/4 + 32 bytes`);
        assert.deepEqual(await i2.readTensor(i2t), i2sByHand(trits, s), `${ta.name} I2_S`);
        assert.deepEqual(
          await tq2.readTensor(tq2.tensor(ta.name)),
          tq2ByHand(trits, scaleBits),
          `${ta.name} TQ2_0`,
        );
        const t1 = decodeBlocks(
          TQ1_0_LAYOUT,
          await tq1.readTensor(tq1.tensor(ta.name)),
          n,
          ta.name,
        );
        assert.deepEqual(t1.trits, trits, `${ta.name} TQ1_0 trits`);
        assert.ok(t1.scales.every((d) => d === s), `${ta.name} TQ1_0 scales`);
        checked++;
      }
      assert.equal(checked, 28);
    } finally {
      for (const f of files) f.close();
    }
  });
});

Deno.test("fixture: meta.json records what each tensor became and why; verify accepts every companion", async () => {
  for (const type of TYPES) {
    const r: QuantizeResult = await fixtureQuantized(type);
    assert.equal(r.meta.precision, type);
    assert.equal(r.meta.tensors.length, 46);
    const onDisk = JSON.parse(await Deno.readTextFile(r.metaPath));
    assert.deepEqual(onDisk, JSON.parse(JSON.stringify(r.meta)));
    for (const row of r.meta.tensors) {
      if (PROJECTION.test(row.gguf_name)) {
        assert.match(
          row.action,
          new RegExp(`^quantized:${type.toUpperCase()} \\(rule projections: `),
        );
        assert.equal(row.gguf_type, type.toUpperCase());
        assert.equal(row.source_dtype, "F16");
        assert.ok(row.ternary_scale! > 0);
        assert.equal(row.max, row.ternary_scale);
        assert.equal(row.min, -row.ternary_scale!);
      } else {
        assert.match(
          row.action,
          /^copied byte-for-byte \(rule (norms|token_embd): .+never quantized/,
        );
        assert.equal(row.ternary_scale, undefined);
      }
      assert.match(row.hf_name ?? "", /^model\./, `${row.gguf_name} keeps its HF name`);
    }
    assert.ok(r.manifestPath?.endsWith(`clean-${type}.gguf-hash`));
    const report = await verifyGguf({ ggufPath: r.ggufPath });
    const status = Object.fromEntries(report.checks.map((c) => [c.name, c.status]));
    assert.deepEqual(status, {
      fingerprint: "ok",
      "meta.json": "ok",
      manifest: "ok",
      signature: "skipped",
    });
    assert.equal(report.ok, true);
  }
});

Deno.test("fixture: quantizing twice gives byte-identical files", async () => {
  const first = await fixtureQuantized("tq1_0");
  const again = await quantizeGguf({
    input: await fixtureF16(),
    outDir: join(tmp, "again"),
    type: "tq1_0",
  });
  assert.equal(again.fingerprint, first.fingerprint);
  assert.equal(await Deno.readTextFile(again.metaPath), await Deno.readTextFile(first.metaPath));
});

async function filesIn(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) names.push(e.name);
  } catch {
    // absent folder: nothing written
  }
  return names;
}

Deno.test("llama: non-ternary projections are refused with exit 17, naming them, and nothing is written", async () => {
  const input = await llamaF16(256, 4);
  const outDir = join(tmp, "refused");
  await assert.rejects(quantizeGguf({ input, outDir }), (e: unknown) => {
    assert.ok(e instanceof NotTernaryError);
    assert.equal(e.exitCode, EXIT.notTernary);
    assert.equal(EXIT.notTernary, 17);
    assert.match(e.message, /blk\.0\.attn_q\.weight/);
    assert.match(e.message, /--ternarize/);
    assert.match(e.message, /14 projection\(s\) are not ternary/);
    return true;
  });
  assert.deepEqual(await filesIn(outDir), []);
});

/** Round half to even, written out independently of lib/codecs/rounding.ts. */
function rne(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

Deno.test("llama: --ternarize applies absmean (FORMATS.md §4) and says so", async () => {
  const input = await llamaF16(256, 4);
  const r = await quantizeGguf({
    input,
    outDir: join(tmp, "llama-tq2"),
    type: "tq2_0",
    ternarize: true,
  });
  assert.match(
    r.meta.warnings.join("\n"),
    /14 projection\(s\) were not ternary and were ternarized with absmean/,
  );
  const row = r.meta.tensors.find((t) => t.gguf_name === "blk.1.ffn_down.weight")!;
  assert.match(row.action, /ternarized with absmean/);
  await withGguf(input, (a) =>
    withGguf(r.ggufPath, async (b) => {
      for (const name of ["blk.0.attn_q.weight", "blk.1.ffn_down.weight"]) {
        const u16 = new Uint16Array((await a.readTensor(a.tensor(name))).slice().buffer);
        const w = Float32Array.from(u16, f16ToF32);
        let sum = 0;
        for (const v of w) sum += Math.abs(v);
        const s = Math.fround(sum / w.length);
        const trits = Int8Array.from(w, (v) => Math.max(-1, Math.min(1, rne(Math.fround(v / s)))));
        const bytes = await b.readTensor(b.tensor(name));
        const d = bytes[64]! | (bytes[65]! << 8);
        assert.ok(Math.abs(f16ToF32(d) - s) <= s * 2 ** -11, `${name}: d = f16(s)`);
        if (name === row.gguf_name) assert.equal(row.ternary_scale, f16ToF32(d));
        assert.deepEqual(bytes, tq2ByHand(trits, d), `${name} TQ2_0 of absmean trits`);
      }
    }));
});

Deno.test("rows that do not fit the format's block keep their float type, per tensor, named in meta.json and a warning", async () => {
  // hidden 128: rows of 128 fit I2_S's 128-element blocks but not TQ's 256.
  const input = await llamaF16(128, 2);
  const ok = await quantizeGguf({ input, outDir: join(tmp, "llama-128-i2s"), ternarize: true });
  assert.equal(ok.meta.tensors.filter((t) => t.gguf_type === "I2_S").length, 14);
  const outDir = join(tmp, "llama-128-tq1");
  const r = await quantizeGguf({ input, outDir, type: "tq1_0", ternarize: true });
  const byName = new Map(r.meta.tensors.map((t) => [t.gguf_name, t]));
  for (let l = 0; l < 2; l++) {
    for (const k of ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up"]) {
      const t = byName.get(`blk.${l}.${k}.weight`)!;
      assert.equal(t.gguf_type, "F16", t.gguf_name);
      assert.match(
        t.action,
        /rule row_block: kept F16: rows of 128 are not a multiple of the 256-element TQ1_0 block/,
      );
    }
    // ffn_down's rows are 256 long: quantized.
    assert.equal(byName.get(`blk.${l}.ffn_down.weight`)!.gguf_type, "TQ1_0");
  }
  const warning = r.meta.warnings.find((w) => /kept in their float type/.test(w));
  assert.ok(warning, "a warning names the kept tensors");
  assert.match(warning!, /12 projection\(s\) kept/);
  assert.match(warning!, /blk\.0\.attn_q\.weight \[128, 128\]/);
  assert.match(warning!, /2 projection\(s\) quantized to TQ1_0/);
});

Deno.test("refusals: replacing the input, an already-quantized input", async () => {
  const input = await fixtureF16();
  await assert.rejects(
    quantizeGguf({ input, outDir: join(tmp, "f16"), name: "clean-f16" }),
    UsageError,
  );
  const i2s = (await fixtureQuantized("i2_s")).ggufPath;
  await assert.rejects(
    quantizeGguf({ input: i2s, outDir: join(tmp, "twice"), type: "tq2_0" }),
    (e: unknown) =>
      e instanceof UnsupportedError && /blk\.0\.attn_q\.weight is I2_S/.test(e.message),
  );
});

async function runTask(
  args: string[],
  writeDir: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      `--allow-write=${writeDir}`,
      "--allow-env",
      "tasks/quantize_i2s_clean.ts",
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("task: exit codes 0 (with --json), 17 (not ternary) and 2 (bad --type)", async () => {
  const outDir = join(tmp, "task");
  const ok = await runTask(
    [await fixtureF16(), outDir, "--type", "tq2_0", "--json", "--quiet"],
    outDir,
  );
  assert.equal(ok.code, 0, ok.stderr);
  const summary = JSON.parse(ok.stdout);
  assert.equal(summary.type, "tq2_0");
  assert.equal(summary.quantized, 28);
  assert.equal(summary.gguf, join(outDir, "clean-tq2_0.gguf"));
  assert.deepEqual(
    (await filesIn(outDir)).sort(),
    [
      "clean-tq2_0.fingerprint",
      "clean-tq2_0.gguf",
      "clean-tq2_0.gguf-hash",
      "clean-tq2_0.meta.json",
    ],
  );

  const refused = await runTask([await llamaF16(256, 4), join(tmp, "task-llama")], tmp);
  assert.equal(refused.code, 17);
  assert.match(refused.stderr, /^error: .*not ternary.*--ternarize/m);

  const usage = await runTask([await fixtureF16(), outDir, "--type", "q4_0"], outDir);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--type must be one of i2_s, tq2_0, tq1_0/);
});

Deno.test("fixture: F32 and BF16 exports quantize to the same trits, each with its own scale", async () => {
  const i2sF16 = (await fixtureQuantized("i2_s")).ggufPath;
  for (const outType of ["f32", "bf16"] as const) {
    const input = (await exportCleanGguf({
      modelDir: FIXTURE_DIR,
      outDir: join(tmp, `export-${outType}`),
      outType,
      quiet: true,
    })).ggufPath;
    const r = await quantizeGguf({ input, outDir: join(tmp, `export-${outType}`) });
    await withGguf(input, (a) =>
      withGguf(r.ggufPath, (b) =>
        withGguf(i2sF16, async (ref) => {
          for (const name of ["blk.0.attn_q.weight", "blk.3.ffn_down.weight"]) {
            const t = b.tensor(name);
            const n = t.ne[0]! * t.ne[1]!;
            const got = await b.readTensor(t);
            const want = await ref.readTensor(ref.tensor(name));
            assert.deepEqual(
              got.subarray(0, n / 4),
              want.subarray(0, n / 4),
              `${outType} ${name} codes`,
            );
            // The scale is |value| of the input as stored (f32 or bf16), not the F16 one.
            const raw = await a.readTensor(a.tensor(name));
            const values = outType === "f32"
              ? new Float32Array(raw.slice().buffer)
              : Float32Array.from(new Uint16Array(raw.slice().buffer), (h) =>
                new Float32Array(new Uint32Array([h << 16]).buffer)[0]!);
            const s = Math.abs(
              values.find((v) =>
                v !== 0
              )!,
            );
            assert.equal(
              new DataView(got.buffer, got.byteOffset + n / 4, 4).getFloat32(0, true),
              s,
            );
          }
        })));
  }
});

/**
 * A one-block BitNet model whose ffn_up is a 4096 × 512 F16 ternary matrix
 * (more than one streamed chunk); the other projections are zero.
 */
async function bigProjection(
  path: string,
  odd: { at: number; factor: number } | null,
): Promise<string> {
  const rng = new FuzzRng(5);
  const s = 0.0234375; // exact in f16
  const proj = new Uint16Array(4096 * 512);
  for (let i = 0; i < proj.length; i++) proj[i] = f32ToF16((rng.int(3) - 1) * s);
  if (odd) proj[odd.at] = f32ToF16(odd.factor * s);
  const f16 = (shape: number[], bytes?: Uint8Array) => ({
    shape,
    type: GgmlType.F16,
    bytes: bytes ?? new Uint8Array(shape[0]! * shape[1]! * 2),
  });
  const norm = (n: number) => ({
    shape: [n],
    type: GgmlType.F32,
    values: new Float32Array(n).fill(1),
  });
  const tensors = {
    "token_embd.weight": f16([8, 512], new Uint8Array(8 * 512 * 2).fill(0x11)),
    "blk.0.attn_norm.weight": norm(512),
    "blk.0.attn_q.weight": f16([512, 512]),
    "blk.0.attn_k.weight": f16([512, 512]),
    "blk.0.attn_v.weight": f16([512, 512]),
    "blk.0.attn_output.weight": f16([512, 512]),
    "blk.0.attn_sub_norm.weight": norm(512),
    "blk.0.ffn_norm.weight": norm(512),
    "blk.0.ffn_gate.weight": f16([4096, 512]),
    "blk.0.ffn_up.weight": f16([4096, 512], new Uint8Array(proj.buffer)),
    "blk.0.ffn_down.weight": f16([512, 4096]),
    "blk.0.ffn_sub_norm.weight": norm(4096),
    "output_norm.weight": norm(512),
  };
  await writeModelGguf(path, {
    arch: "bitnet-b1.58",
    hparams: {
      contextLength: 64,
      embeddingLength: 512,
      blockCount: 1,
      feedForwardLength: 4096,
      headCount: 8,
      headCountKv: 8,
      rmsEps: 1e-5,
      ropeFreqBase: 10000,
      vocabSize: 8,
    },
    tensors: Object.entries(tensors).map(([name, t]) => ({ name, ...t })),
  });
  return path;
}

const ffnUp = (r: QuantizeResult) =>
  r.meta.tensors.find((t) => t.gguf_name === "blk.0.ffn_up.weight")!;

Deno.test("a value that breaks ternary beyond the first chunk is refused while writing, naming it; nothing is left", async () => {
  const clean = await bigProjection(join(tmp, "big-clean.gguf"), null);
  const ok = await quantizeGguf({ input: clean, outDir: join(tmp, "big-ok"), type: "tq2_0" });
  assert.equal(ffnUp(ok).gguf_type, "TQ2_0");

  const input = await bigProjection(join(tmp, "big-odd.gguf"), { at: 1_500_000, factor: 2 });
  const outDir = join(tmp, "big-refused");
  await assert.rejects(quantizeGguf({ input, outDir }), (e: unknown) => {
    assert.ok(e instanceof NotTernaryError);
    assert.match(
      e.message,
      /projection blk\.0\.ffn_up\.weight is not ternary: element 1500000 is 0\.046875/,
    );
    assert.match(e.message, /--ternarize/);
    return true;
  });
  assert.deepEqual(await filesIn(outDir), []);

  // With --ternarize the whole tensor is scanned first and absmean applies.
  const r = await quantizeGguf({ input, outDir: join(tmp, "big-ternarized"), ternarize: true });
  assert.match(ffnUp(r).action, /ternarized with absmean/);
});

Deno.test("remove the temporary files", async () => {
  await Deno.remove(tmp, { recursive: true });
});
