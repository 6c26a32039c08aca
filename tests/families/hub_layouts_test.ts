/**
 * `--hf-repo` on each family's repository layout (on the local fake Hub): the
 * files an export needs are downloaded, nothing else (remote code, eval
 * scripts, PyTorch .bin copies, `original/` folders, READMEs), single-file or
 * sharded weights alike; the export of the download equals the export of the
 * imitation folder, tensor for tensor. A repository with only GGUF files is
 * refused with a message that says so.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { downloadFromHub } from "../../lib/hub/download.ts";
import { exportCleanGguf } from "../../lib/export/export.ts";
import { DownloadError } from "../../lib/errors.ts";
import { startFakeHub } from "../hub/fake_hub.ts";
import { buildSafetensors, splitSafetensors, type TensorSpec } from "../safetensors/_build.ts";
import { type FamilyId, writeImitation } from "./_imitations.ts";

const text = (s: string) => new TextEncoder().encode(s);

/** The imitation's single model.safetensors split in two shards with an index, as large repos ship. */
function shard(single: Uint8Array): Record<string, Uint8Array> {
  const { headerText, data } = splitSafetensors(single);
  const header = JSON.parse(headerText) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const names = Object.keys(header).filter((n) => n !== "__metadata__");
  const parts: TensorSpec[][] = [[], []];
  const weightMap: Record<string, string> = {};
  names.forEach((name, i) => {
    const h = header[name]!, part = i < names.length / 2 ? 0 : 1;
    parts[part]!.push({
      name,
      dtype: h.dtype,
      shape: h.shape,
      data: data.slice(...h.data_offsets),
    });
    weightMap[name] = `model-0000${part + 1}-of-00002.safetensors`;
  });
  return {
    "model-00001-of-00002.safetensors": buildSafetensors(parts[0]!, { format: "pt" }),
    "model-00002-of-00002.safetensors": buildSafetensors(parts[1]!, { format: "pt" }),
    "model.safetensors.index.json": text(JSON.stringify({ metadata: {}, weight_map: weightMap })),
  };
}

/** Each family's published layout: what the repository holds besides the imitation's files. */
const LAYOUTS: Array<{ repo: string; family: FamilyId; sharded: boolean; extra: string[] }> = [
  {
    repo: "microsoft/bitnet-b1.58-2B-4T",
    family: "ms-packed",
    sharded: false,
    extra: [
      "README.md",
      "LICENSE",
      "data_summary_card.md",
      "generation_config.json",
      ".gitattributes",
    ],
  },
  {
    repo: "microsoft/bitnet-b1.58-2B-4T-bf16",
    family: "ms-bf16",
    sharded: false,
    extra: ["README.md", "LICENSE", "generation_config.json"],
  },
  {
    repo: "1bitLLM/bitnet_b1_58-3B",
    family: "1bitllm",
    sharded: false,
    extra: [
      "README.md",
      "configuration_bitnet.py",
      "modeling_bitnet.py",
      "utils_quant.py",
      "eval_ppl.py",
      "tokenizer.model",
      "special_tokens_map.json",
      "generation_config.json",
      "pytorch_model.bin",
    ],
  },
  {
    repo: "HF1BitLLM/Llama3-8B-1.58-100B-tokens",
    family: "hf1bitllm",
    sharded: true,
    extra: [
      "README.md",
      "generation_config.json",
      "special_tokens_map.json",
      "original/params.json",
    ],
  },
  {
    repo: "tiiuae/Falcon3-7B-Instruct-1.58bit",
    family: "falcon3",
    sharded: true,
    extra: ["README.md", "generation_config.json", "special_tokens_map.json"],
  },
];

/** The files an export needs or uses (lib/hub/select.ts), among those a layout has. */
const WANTED = [
  "config.json",
  "tokenizer.json",
  "tokenizer_config.json",
  "generation_config.json",
  "special_tokens_map.json",
  "tokenizer.model",
  "model.safetensors.index.json",
];

for (const layout of LAYOUTS) {
  Deno.test(`--hf-repo ${layout.repo}: the export's files only, then the same tensors as a local export`, async () => {
    const dir = await Deno.makeTempDir();
    try {
      const im = await writeImitation(layout.family, join(dir, "hf"), 7);
      const files: Record<string, Uint8Array> = {};
      for await (const e of Deno.readDir(im.dir)) {
        files[e.name] = await Deno.readFile(join(im.dir, e.name));
      }
      if (layout.sharded) {
        Object.assign(files, shard(files["model.safetensors"]!));
        delete files["model.safetensors"];
      }
      for (const f of layout.extra) files[f] = text(`${f} of ${layout.repo}\n`);
      const hub = startFakeHub([{ name: layout.repo, files }]);
      try {
        const got = await downloadFromHub({
          repo: layout.repo,
          hubUrl: hub.url,
          cacheDir: join(dir, "cache"),
          progress: false,
        });
        const weights = Object.keys(files).filter((f) => f.endsWith(".safetensors"));
        const expected = [...weights, ...WANTED.filter((f) => f in files)].sort();
        assert.deepEqual(got.files.map((f) => f.path).sort(), expected);
        const fromHub = await exportCleanGguf({
          modelDir: got.modelDir,
          outDir: join(dir, "a"),
          quiet: true,
        });
        const local = await exportCleanGguf({
          modelDir: im.dir,
          outDir: join(dir, "b"),
          quiet: true,
        });
        assert.deepEqual(
          fromHub.meta.tensors.map((t) => [t.gguf_name, t.rms, t.action]),
          local.meta.tensors.map((t) => [t.gguf_name, t.rms, t.action]),
        );
        assert.equal(
          await Deno.readTextFile(fromHub.manifestPath),
          await Deno.readTextFile(local.manifestPath),
        );
      } finally {
        await hub.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("--hf-repo of a GGUF-only repository (microsoft/bitnet-b1.58-2B-4T-gguf) is refused, saying why", async () => {
  const dir = await Deno.makeTempDir();
  const hub = startFakeHub([{
    name: "microsoft/bitnet-b1.58-2B-4T-gguf",
    files: {
      "config.json": text("{}"),
      "tokenizer.json": text("{}"),
      "ggml-model-i2_s.gguf": text("GGUF"),
    },
  }]);
  try {
    await assert.rejects(
      downloadFromHub({
        repo: "microsoft/bitnet-b1.58-2B-4T-gguf",
        hubUrl: hub.url,
        cacheDir: join(dir, "cache"),
        progress: false,
      }),
      (e: unknown) => e instanceof DownloadError && /has no \.safetensors weights/.test(e.message),
    );
  } finally {
    await hub.close();
    await Deno.remove(dir, { recursive: true });
  }
});
