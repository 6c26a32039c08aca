/**
 * Export throughput against `cp` of the same bytes, and the export's peak RSS,
 * measured in one run on a synthetic BF16 BitNet checkpoint of ≥ 1 GB
 * (2B-4T-shaped layers: hidden 2560, intermediate 6912).
 *
 *   deno run -A bench/export_bench.ts [--layers 8] [--runs 3]
 *
 * Writes the checkpoint once under bench/out/ (reused afterwards). Each run
 * times `cp model.safetensors` then the export (as a separate process under
 * /usr/bin/time for its peak RSS), alternating, and prints medians and the
 * ratio cp_time / export_time per pair.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { FuzzRng } from "../tests/_fuzz.ts";
import { buildSafetensorsHeader } from "./synthetic_checkpoint.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    layers: { type: "string", default: "8" },
    runs: { type: "string", default: "3" },
    vocab: { type: "string", default: "2048" },
    dir: { type: "string" },
    "generate-only": { type: "boolean", default: false },
  },
});
const layers = Number(values.layers), runs = Number(values.runs), vocab = Number(values.vocab);
const dir = values.dir ?? `bench/out/synthetic-bitnet-${layers}l-v${vocab}`;
const hidden = 2560, ff = 6912, heads = 20, kvHeads = 5;

async function ensureCheckpoint(): Promise<void> {
  try {
    await Deno.stat(`${dir}/model.safetensors`);
    return;
  } catch {
    // generate below
  }
  await Deno.mkdir(dir, { recursive: true });
  const shapes: [string, number[]][] = [["model.embed_tokens.weight", [vocab, hidden]]];
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}.`;
    shapes.push(
      [p + "input_layernorm.weight", [hidden]],
      [p + "self_attn.q_proj.weight", [hidden, hidden]],
      [p + "self_attn.k_proj.weight", [kvHeads * 128, hidden]],
      [p + "self_attn.v_proj.weight", [kvHeads * 128, hidden]],
      [p + "self_attn.o_proj.weight", [hidden, hidden]],
      [p + "self_attn.attn_sub_norm.weight", [hidden]],
      [p + "post_attention_layernorm.weight", [hidden]],
      [p + "mlp.gate_proj.weight", [ff, hidden]],
      [p + "mlp.up_proj.weight", [ff, hidden]],
      [p + "mlp.down_proj.weight", [hidden, ff]],
      [p + "mlp.ffn_sub_norm.weight", [ff]],
    );
  }
  shapes.push(["model.norm.weight", [hidden]]);
  const { header, sizes } = buildSafetensorsHeader(
    shapes.map(([name, shape]) => ({ name, dtype: "BF16", shape })),
  );
  const file = await Deno.open(`${dir}/model.safetensors`, {
    write: true,
    create: true,
    truncate: true,
  });
  await file.write(header);
  const rng = new FuzzRng(1);
  // Random BF16 bits: sign random, exponent near 2^-5 for weights and 2^0 for norms.
  for (const [i, [name]] of shapes.entries()) {
    const n = sizes[i]! / 2;
    const bf16 = new Uint16Array(n);
    const isNorm = name.includes("norm");
    const base = isNorm ? 0x3f80 : 0x3d00;
    for (let j = 0; j < n; j += 2) {
      const r = rng.u32();
      const sign0 = isNorm ? 0 : (r >>> 16) & 0x8000, sign1 = isNorm ? 0 : (r >>> 15) & 0x8000;
      bf16[j] = sign0 | base | (r & 0x7f);
      bf16[j + 1] = sign1 | (base - 0x80 * ((r >>> 20) & 3)) | ((r >>> 8) & 0x7f);
    }
    await file.write(new Uint8Array(bf16.buffer));
  }
  file.close();
  const config = JSON.parse(await Deno.readTextFile("fixtures/tiny-bitnet/config.json"));
  Object.assign(config, {
    hidden_size: hidden,
    intermediate_size: ff,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    vocab_size: vocab,
  });
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(config, null, 2));
  for (const f of ["tokenizer.json", "tokenizer_config.json"]) {
    await Deno.copyFile(`fixtures/tiny-bitnet/${f}`, `${dir}/${f}`);
  }
}

async function timed(cmd: string, args: string[]): Promise<{ seconds: number; rssKb: number }> {
  const t0 = performance.now();
  const out = await new Deno.Command("/usr/bin/time", {
    args: ["-f", "%M", cmd, ...args],
    stdout: "null",
    stderr: "piped",
  })
    .output();
  const seconds = (performance.now() - t0) / 1000;
  const stderr = new TextDecoder().decode(out.stderr).trim().split("\n");
  if (!out.success) throw new Error(`${cmd} failed: ${stderr.join("\n")}`);
  return { seconds, rssKb: Number(stderr.at(-1)) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

await ensureCheckpoint();
if (values["generate-only"]) Deno.exit(0);
const size = (await Deno.stat(`${dir}/model.safetensors`)).size;
const outDir = `${dir}/export`;
const deno = Deno.execPath();
const cpTimes: number[] = [], exportTimes: number[] = [], ratios: number[] = [], rss: number[] = [];
// Warm the page cache so both read from memory.
await timed("cp", [`${dir}/model.safetensors`, `${dir}/copy.safetensors`]);
for (let r = 0; r < runs; r++) {
  const cp = await timed("cp", [`${dir}/model.safetensors`, `${dir}/copy.safetensors`]);
  const ex = await timed(deno, [
    "run",
    "-A",
    "tasks/export_clean_gguf.ts",
    dir,
    `${dir}/tokenizer.json`,
    outDir,
    "--quiet",
  ]);
  cpTimes.push(cp.seconds);
  exportTimes.push(ex.seconds);
  ratios.push(cp.seconds / ex.seconds);
  rss.push(ex.rssKb);
}
await Deno.remove(`${dir}/copy.safetensors`);
const gb = size / 1e9;
console.log(`input ${gb.toFixed(2)} GB BF16 (${layers} layers of 2B-4T shape), ${runs} runs`);
console.log(
  `cp:     median ${median(cpTimes).toFixed(2)} s  (${(gb / median(cpTimes)).toFixed(2)} GB/s)`,
);
console.log(
  `export: median ${median(exportTimes).toFixed(2)} s  (${
    (gb / median(exportTimes)).toFixed(2)
  } GB/s)`,
);
console.log(
  `speed relative to cp (cp_time / export_time, per pair): median ${
    median(ratios).toFixed(2)
  }x, min ${Math.min(...ratios).toFixed(2)}x, max ${Math.max(...ratios).toFixed(2)}x`,
);
console.log(
  `export peak RSS: median ${(median(rss) / 1024).toFixed(0)} MB, max ${
    (Math.max(...rss) / 1024).toFixed(0)
  } MB`,
);
