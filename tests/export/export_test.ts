import assert from "node:assert/strict";
import { exportCleanGguf } from "../../lib/export/export.ts";
import { openGguf } from "../../lib/gguf/reader.ts";
import { GgmlType } from "../../lib/gguf/types.ts";
import { f16ToF32 } from "../../lib/codecs/float.ts";
import {
  FormatError,
  InputError,
  ModelShapeError,
  OutputError,
  OverflowError,
  TokenizerMismatchError,
  UnsupportedError,
} from "../../lib/errors.ts";
import { hfGguf } from "../../deps.ts";
import { bf16Bytes, copyFixtureMetadata, FIXTURE_DIR, writeRandomLlama } from "../_models.ts";
import { buildSafetensors } from "../safetensors/_build.ts";

/** The fixture's tensors parsed here with a few lines of code, independently of lib/safetensors. */
async function rawTensors(
  path: string,
): Promise<Map<string, { dtype: string; shape: number[]; bytes: Uint8Array }>> {
  const file = await Deno.readFile(path);
  const n = Number(new DataView(file.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + n))) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const out = new Map<string, { dtype: string; shape: number[]; bytes: Uint8Array }>();
  for (const [name, t] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    out.set(name, {
      dtype: t.dtype,
      shape: t.shape,
      bytes: file.slice(8 + n + t.data_offsets[0], 8 + n + t.data_offsets[1]),
    });
  }
  return out;
}

function bf16Values(bytes: Uint8Array): Float32Array {
  const u16 = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2);
  const u32 = new Uint32Array(u16.length);
  for (let i = 0; i < u16.length; i++) u32[i] = u16[i]! << 16;
  return new Float32Array(u32.buffer);
}

/** Round half to even, written out independently of lib/codecs/rounding.ts. */
function rne(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

async function tensorValues(
  path: string,
  name: string,
): Promise<{ type: number; values: Float32Array; shape: readonly number[] }> {
  const g = await openGguf(path);
  try {
    const t = g.tensor(name);
    const bytes = await g.readTensor(t);
    if (t.type === GgmlType.F32) {
      return { type: t.type, values: new Float32Array(bytes.slice().buffer), shape: t.shape };
    }
    if (t.type === GgmlType.F16) {
      const u16 = new Uint16Array(bytes.slice().buffer);
      return { type: t.type, values: Float32Array.from(u16, f16ToF32), shape: t.shape };
    }
    if (t.type === GgmlType.BF16) {
      return { type: t.type, values: bf16Values(bytes.slice()), shape: t.shape };
    }
    throw new Error(`unexpected type ${t.type}`);
  } finally {
    g.close();
  }
}

const tmp = () => Deno.makeTempDir({ prefix: "clean-gguf-export-" });

Deno.test("export: the fixture reads back identically in our reader and @huggingface/gguf", async () => {
  const out = await tmp();
  try {
    const r = await exportCleanGguf({ modelDir: FIXTURE_DIR, outDir: out, quiet: true });
    const ours = await openGguf(r.ggufPath);
    const theirs = await hfGguf(r.ggufPath, { allowLocalFile: true });
    try {
      const theirMeta = theirs.metadata as unknown as Record<string, unknown>;
      for (const [key, kv] of ours.metadata) {
        const a = kv.value, b = theirMeta[key];
        assert.deepEqual(typeof a === "bigint" ? a : a, b, `metadata ${key}`);
      }
      assert.equal(Number(theirMeta.kv_count), ours.metadata.size);
      assert.deepEqual(
        theirs.tensorInfos.map((t) => [t.name, t.shape.map(Number), t.dtype, Number(t.offset)]),
        ours.tensors.map((t) => [t.name, [...t.ne], t.type, t.offset]),
      );
      assert.equal(ours.architecture, "bitnet-b1.58");
      assert.equal(ours.getNumber("bitnet-b1.58.block_count"), 4);
      assert.equal(ours.getNumber("bitnet-b1.58.attention.head_count_kv"), 2);
      assert.equal(ours.getNumber("general.file_type"), 1);
      assert.equal(ours.getString("tokenizer.ggml.pre"), "llama-bpe");
      assert.equal(ours.tensors.length, 46);
      assert.ok(!ours.hasTensor("output.weight"), "tied embeddings: no output.weight");
      // dims reversed from the PyTorch shape.
      assert.deepEqual(ours.tensor("blk.0.ffn_down.weight").ne, [768, 256]);
    } finally {
      ours.close();
    }
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("export: projections are the absmean ternarization of the source; norms equal the BF16 source in F32", async () => {
  const out = await tmp();
  try {
    const r = await exportCleanGguf({ modelDir: FIXTURE_DIR, outDir: out, quiet: true });
    const source = await rawTensors(`${FIXTURE_DIR}/model.safetensors`);
    for (const t of r.meta.tensors) {
      const src = source.get(t.hf_name!)!;
      const w = bf16Values(src.bytes);
      const got = await tensorValues(r.ggufPath, t.gguf_name);
      if (t.gguf_name.includes("norm")) {
        assert.equal(got.type, GgmlType.F32, `${t.gguf_name} is F32`);
        assert.deepEqual(got.values, w, `${t.gguf_name} equals its BF16 source exactly`);
        continue;
      }
      if (t.gguf_name === "token_embd.weight") {
        for (let i = 0; i < w.length; i += 97) {
          // F16 keeps 11 significant bits; below 2^-14 it is subnormal (absolute step 2^-24).
          assert.ok(
            Math.abs(got.values[i]! - w[i]!) <= Math.max(Math.abs(w[i]!) * 2 ** -11, 2 ** -25),
          );
        }
        continue;
      }
      // Projection: mean |W| in float64, rounded to f32 as torch computes it in f32.
      let sum = 0;
      for (const v of w) sum += Math.abs(v);
      const s = Math.fround(Math.max(sum / w.length, 1e-5));
      const distinct = new Set(got.values);
      assert.ok(distinct.size <= 3, `${t.gguf_name}: ${distinct.size} distinct values`);
      const written = Math.max(...[...distinct].map(Math.abs));
      assert.ok(
        Math.abs(written - s) <= s * 2 ** -10,
        `${t.gguf_name}: scale ${written} vs absmean ${s}`,
      );
      let mismatches = 0;
      for (let i = 0; i < w.length; i++) {
        const trit = Math.max(-1, Math.min(1, rne(Math.fround(w[i]! / s))));
        if (trit * written !== got.values[i]) mismatches++;
      }
      assert.equal(mismatches, 0, `${t.gguf_name}: trits differ from the absmean ternarization`);
    }
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("export: two exports are byte-identical and the fingerprint equals sha256sum", async () => {
  const a = await tmp(), b = await tmp();
  try {
    const ra = await exportCleanGguf({ modelDir: FIXTURE_DIR, outDir: a, quiet: true });
    const rb = await exportCleanGguf({ modelDir: FIXTURE_DIR, outDir: b, quiet: true });
    assert.equal(ra.fingerprint, rb.fingerprint);
    assert.deepEqual(await Deno.readFile(ra.metaPath), await Deno.readFile(rb.metaPath));
    const sum = new Deno.Command("sha256sum", { args: [ra.ggufPath] }).outputSync();
    const hex = new TextDecoder().decode(sum.stdout).split(" ")[0];
    assert.equal(await Deno.readTextFile(ra.fingerprintPath), `sha256-${hex}\n`);
    assert.equal(ra.meta.fingerprint, `sha256-${hex}`);
    assert.ok(!("created_at" in ra.meta));
  } finally {
    await Deno.remove(a, { recursive: true });
    await Deno.remove(b, { recursive: true });
  }
});

Deno.test("export: outtype f32 and bf16, norm-type f16, arch-name bitnet", async () => {
  const out = await tmp();
  try {
    const f32 = await exportCleanGguf({
      modelDir: FIXTURE_DIR,
      outDir: out,
      outType: "f32",
      quiet: true,
    });
    assert.equal((await tensorValues(f32.ggufPath, "token_embd.weight")).type, GgmlType.F32);
    const bf = await exportCleanGguf({
      modelDir: FIXTURE_DIR,
      outDir: out,
      outType: "bf16",
      normType: "f16",
      archName: "bitnet",
      quiet: true,
    });
    assert.equal((await tensorValues(bf.ggufPath, "blk.0.attn_q.weight")).type, GgmlType.BF16);
    assert.equal((await tensorValues(bf.ggufPath, "blk.0.attn_norm.weight")).type, GgmlType.F16);
    const g = await openGguf(bf.ggufPath);
    try {
      assert.equal(g.architecture, "bitnet");
      assert.equal(g.getString("bitnet.hidden_activation"), "relu2");
      assert.equal(g.getNumber("general.file_type"), 32);
    } finally {
      g.close();
    }
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("export: a random Llama checkpoint has q/k rows permuted as llama.cpp expects", async () => {
  const dir = await tmp();
  try {
    const model = await writeRandomLlama(`${dir}/llama`, {
      seed: 7,
      heads: 4,
      kvHeads: 2,
      hidden: 64,
    });
    const r = await exportCleanGguf({
      modelDir: model.dir,
      outDir: `${dir}/out`,
      outType: "f32",
      quiet: true,
    });
    const g = await openGguf(r.ggufPath);
    assert.equal(g.architecture, "llama");
    assert.ok(g.hasTensor("output.weight"), "untied lm_head exported");
    g.close();
    const headDim = 16;
    for (const [proj, heads] of [["q", 4], ["k", 2]] as const) {
      const src = model.tensors.get(`model.layers.1.self_attn.${proj}_proj.weight`)!;
      const got = (await tensorValues(r.ggufPath, `blk.1.attn_${proj}.weight`)).values;
      const cols = 64;
      // Independent statement of the permutation: within each head, output row 2j holds input
      // row j (first half) and output row 2j+1 holds input row j + headDim/2 (second half).
      for (let h = 0; h < heads; h++) {
        for (let j = 0; j < headDim / 2; j++) {
          for (const [outRow, inRow] of [[2 * j, j], [2 * j + 1, j + headDim / 2]]) {
            const o = (h * headDim + outRow!) * cols, i = (h * headDim + inRow!) * cols;
            assert.deepEqual(
              got.subarray(o, o + cols),
              src.values.subarray(i, i + cols),
              `${proj} head ${h} row ${outRow}`,
            );
          }
        }
      }
    }
    // v is not permuted.
    const v = model.tensors.get("model.layers.0.self_attn.v_proj.weight")!;
    assert.deepEqual((await tensorValues(r.ggufPath, "blk.0.attn_v.weight")).values, v.values);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function assertNothingWritten(out: string): Promise<void> {
  let names: string[] = [];
  try {
    for await (const e of Deno.readDir(out)) names.push(e.name);
  } catch {
    names = [];
  }
  assert.deepEqual(names, [], `nothing left in ${out}`);
}

Deno.test("export: bad inputs give clear errors and leave nothing at the final paths", async (t) => {
  const dir = await tmp();
  const fixture = await Deno.readFile(`${FIXTURE_DIR}/model.safetensors`);
  const headerLen = Number(new DataView(fixture.buffer).getBigUint64(0, true));
  const cases: {
    name: string;
    setup: (d: string) => Promise<void>;
    error: new (...a: never[]) => Error;
    message: RegExp;
    tokenizer?: string;
  }[] = [
    {
      name: "missing config.json",
      setup: async (d) => {
        await copyFixtureMetadata(d);
        await Deno.remove(`${d}/config.json`);
        await Deno.copyFile(`${FIXTURE_DIR}/model.safetensors`, `${d}/model.safetensors`);
      },
      error: InputError,
      message: /config\.json: cannot read/,
    },
    {
      name: "unknown architecture",
      setup: async (d) => {
        await copyFixtureMetadata(d);
        const c = JSON.parse(await Deno.readTextFile(`${d}/config.json`));
        c.architectures = ["MambaForCausalLM"];
        await Deno.writeTextFile(`${d}/config.json`, JSON.stringify(c));
      },
      error: UnsupportedError,
      message:
        /unsupported architecture MambaForCausalLM; supported: BitNetForCausalLM, BitnetForCausalLM, LlamaForCausalLM/,
    },
    {
      name: "truncated safetensors",
      setup: async (d) => {
        await copyFixtureMetadata(d);
        await Deno.writeFile(`${d}/model.safetensors`, fixture.slice(0, fixture.length - 1000));
      },
      error: FormatError,
      message: /model\.safetensors/,
    },
    {
      name: "header offsets past the end",
      setup: async (d) => {
        await copyFixtureMetadata(d);
        const header = new TextDecoder().decode(fixture.subarray(8, 8 + headerLen));
        const bumped = header.replace(
          /"data_offsets":\[(\d+),(\d+)\]/,
          (_m, a, b) => `"data_offsets":[${a},${Number(b) + 9000000}]`,
        );
        const bytes = new TextEncoder().encode(bumped.padEnd(headerLen, " ").slice(0, headerLen));
        const f = fixture.slice();
        f.set(bytes, 8);
        await Deno.writeFile(`${d}/model.safetensors`, f);
      },
      error: FormatError,
      message: /model\.safetensors/,
    },
    {
      name: "missing shard",
      setup: async (d) => {
        await copyFixtureMetadata(d);
        const names = [...(await rawTensors(`${FIXTURE_DIR}/model.safetensors`)).keys()];
        const weightMap = Object.fromEntries(
          names.map((
            n,
            i,
          ) => [
            n,
            i % 2 ? "model-00002-of-00002.safetensors" : "model-00001-of-00002.safetensors",
          ]),
        );
        await Deno.writeTextFile(
          `${d}/model.safetensors.index.json`,
          JSON.stringify({ metadata: {}, weight_map: weightMap }),
        );
        await Deno.writeFile(`${d}/model-00001-of-00002.safetensors`, buildSafetensors([]));
      },
      error: InputError,
      message: /model-0000[12]-of-00002\.safetensors/,
    },
    {
      name: "a tokenizer whose size disagrees with config.json",
      setup: async (d) => {
        await copyFixtureMetadata(d);
        await Deno.copyFile(`${FIXTURE_DIR}/model.safetensors`, `${d}/model.safetensors`);
        // The tokenizer given on the command line holds an added token beyond vocab_size 2048.
        const tok = JSON.parse(await Deno.readTextFile(`${d}/tokenizer.json`));
        tok.added_tokens.push({
          id: 4000,
          content: "<|extra|>",
          single_word: false,
          lstrip: false,
          rstrip: false,
          normalized: false,
          special: true,
        });
        await Deno.writeTextFile(`${d}/other-tokenizer.json`, JSON.stringify(tok));
      },
      tokenizer: "other-tokenizer.json",
      error: TokenizerMismatchError,
      message: /tokenizer mismatch: .*other-tokenizer\.json.*4000.*2048/,
    },
    {
      name: "BF16 overflow",
      setup: async (d) => {
        await copyFixtureMetadata(d);
        const tensors = await rawTensors(`${FIXTURE_DIR}/model.safetensors`);
        const specs = [...tensors].map(([name, t]) => {
          if (name !== "model.embed_tokens.weight") {
            return { name, dtype: t.dtype, shape: t.shape, data: t.bytes };
          }
          const v = bf16Values(t.bytes.slice());
          v[5] = 70000;
          v[9] = -1e6;
          return { name, dtype: t.dtype, shape: t.shape, data: bf16Bytes(v) };
        });
        await Deno.writeFile(`${d}/model.safetensors`, buildSafetensors(specs));
      },
      error: OverflowError,
      message: /token_embd\.weight \(model\.embed_tokens\.weight\): 2 values/,
    },
    {
      name: "a wrongly shaped tensor",
      setup: async (d) => {
        await copyFixtureMetadata(d);
        const c = JSON.parse(await Deno.readTextFile(`${d}/config.json`));
        c.intermediate_size = 512;
        await Deno.writeTextFile(`${d}/config.json`, JSON.stringify(c));
        await Deno.copyFile(`${FIXTURE_DIR}/model.safetensors`, `${d}/model.safetensors`);
      },
      error: ModelShapeError,
      message:
        /model\.layers\.0\.mlp\.gate_proj\.weight: shape \[768, 256\], expected \[512, 256\]/,
    },
  ];
  try {
    for (const [i, c] of cases.entries()) {
      await t.step(c.name, async () => {
        const d = `${dir}/case${i}`, out = `${dir}/out${i}`;
        await c.setup(d);
        await assert.rejects(
          exportCleanGguf({
            modelDir: d,
            outDir: out,
            quiet: true,
            ...(c.tokenizer ? { tokenizerPath: `${d}/${c.tokenizer}` } : {}),
          }),
          (e: Error) => {
            assert.ok(e instanceof c.error, `${c.name}: got ${e.name}: ${e.message}`);
            assert.match(e.message, c.message);
            return true;
          },
        );
        await assertNothingWritten(out);
      });
    }
    await t.step("an unwritable out_dir", async () => {
      const out = `${dir}/readonly`;
      await Deno.mkdir(out);
      await Deno.chmod(out, 0o500);
      // root ignores directory permissions: use a path under a regular file instead.
      const impossible = `${dir}/a-file/out`;
      await Deno.writeTextFile(`${dir}/a-file`, "");
      await assert.rejects(
        exportCleanGguf({ modelDir: FIXTURE_DIR, outDir: impossible, quiet: true }),
        (e: Error) =>
          e instanceof OutputError && /a-file\/out: cannot create output folder/.test(e.message),
      );
      await Deno.chmod(out, 0o700);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("export: --allow-overflow clamp writes ±65504 and records it", async () => {
  const dir = await tmp();
  try {
    await copyFixtureMetadata(`${dir}/m`);
    const tensors = await rawTensors(`${FIXTURE_DIR}/model.safetensors`);
    const specs = [...tensors].map(([name, t]) => {
      if (name !== "model.embed_tokens.weight") {
        return { name, dtype: t.dtype, shape: t.shape, data: t.bytes };
      }
      const v = bf16Values(t.bytes.slice());
      v[5] = 70000;
      v[9] = -1e6;
      return { name, dtype: t.dtype, shape: t.shape, data: bf16Bytes(v) };
    });
    await Deno.writeFile(`${dir}/m/model.safetensors`, buildSafetensors(specs));
    const r = await exportCleanGguf({
      modelDir: `${dir}/m`,
      outDir: `${dir}/out`,
      allowOverflow: "clamp",
      quiet: true,
    });
    const embd = await tensorValues(r.ggufPath, "token_embd.weight");
    assert.equal(embd.values[5], 65504);
    assert.equal(embd.values[9], -65504);
    assert.equal(r.meta.tensors.find((t) => t.gguf_name === "token_embd.weight")?.clamped, 2);
    assert.equal(r.meta.options.allow_overflow, "clamp");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * Packs trits the way Microsoft's offline checkpoints do (FORMATS.md §4): row i·R + p (R = rows/4)
 * goes to bits 2i of byte [p, c], as code + 1.
 */
function packU8(trits: Int8Array, rows: number, cols: number): Uint8Array {
  const R = rows / 4;
  const out = new Uint8Array(R * cols);
  for (let r = 0; r < rows; r++) {
    const i = Math.floor(r / R), p = r % R;
    for (let c = 0; c < cols; c++) out[p * cols + c]! |= (trits[r * cols + c]! + 1) << (2 * i);
  }
  return out;
}

Deno.test("export: packed U8 checkpoints export to the same ternary weights as their BF16 source", async (t) => {
  // This test decides the weight_scale convention (lib/export/packed.ts): the packed checkpoint is
  // built from the fixture's own ternarization, so only the right convention reproduces the
  // BF16 export's projections.
  const dir = await tmp();
  try {
    const reference = await exportCleanGguf({
      modelDir: FIXTURE_DIR,
      outDir: `${dir}/ref`,
      outType: "f32",
      quiet: true,
    });
    const source = await rawTensors(`${FIXTURE_DIR}/model.safetensors`);
    for (
      const [linearClass, scaleOf] of [["autobitlinear", (s: number) => s], [
        "bitlinear",
        (s: number) => 1 / s,
      ]] as const
    ) {
      await t.step(linearClass, async () => {
        const m = `${dir}/${linearClass}`;
        await copyFixtureMetadata(m);
        const config = JSON.parse(await Deno.readTextFile(`${m}/config.json`));
        config.quantization_config = {
          quant_method: "bitnet",
          linear_class: linearClass,
          quantization_mode: "offline",
        };
        await Deno.writeTextFile(`${m}/config.json`, JSON.stringify(config));
        const specs = [];
        for (const [name, tensor] of source) {
          if (!/_proj\.weight$/.test(name)) {
            specs.push({ name, dtype: tensor.dtype, shape: tensor.shape, data: tensor.bytes });
            continue;
          }
          const w = bf16Values(tensor.bytes.slice());
          let sum = 0;
          for (const v of w) sum += Math.abs(v);
          const s = Math.fround(sum / w.length);
          const trits = Int8Array.from(
            w,
            (v) => Math.max(-1, Math.min(1, rne(Math.fround(v / s)))),
          );
          const [rows, cols] = tensor.shape as [number, number];
          specs.push({
            name,
            dtype: "U8",
            shape: [rows / 4, cols],
            data: packU8(trits, rows, cols),
          });
          specs.push({
            name: name.replace(/\.weight$/, ".weight_scale"),
            dtype: "F32",
            shape: [1],
            data: new Uint8Array(new Float32Array([scaleOf(s)]).buffer),
          });
        }
        await Deno.writeFile(`${m}/model.safetensors`, buildSafetensors(specs));
        const r = await exportCleanGguf({
          modelDir: m,
          outDir: `${m}/out`,
          outType: "f32",
          quiet: true,
        });
        for (const tensor of reference.meta.tensors) {
          const a = (await tensorValues(reference.ggufPath, tensor.gguf_name)).values;
          const b = (await tensorValues(r.ggufPath, tensor.gguf_name)).values;
          if (linearClass === "autobitlinear") {
            assert.deepEqual(b, a, tensor.gguf_name);
          } else {
            // 1/(1/s) in f32 may differ from s by an ulp.
            for (let i = 0; i < a.length; i++) {
              assert.ok(Math.abs(a[i]! - b[i]!) <= Math.abs(a[i]!) * 2 ** -22, tensor.gguf_name);
            }
          }
        }
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
