/**
 * Synthetic BF16 BitNet checkpoints (Hugging Face layout: model.safetensors,
 * config.json, the fixture's tokenizer) with the 2B-4T layer shapes, written
 * tensor by tensor (data streamed after the header, in the same order).
 *
 *   deno run -A bench/synthetic_checkpoint.ts DIR [--layers 30] [--vocab 128256]
 *
 * @example
 * ```ts
 * import { buildSafetensorsHeader } from "./synthetic_checkpoint.ts";
 * const { header, sizes } = buildSafetensorsHeader([{ name: "w", dtype: "BF16", shape: [2, 2] }]);
 * ```
 * @module
 */

import { parseArgs } from "node:util";
import { FuzzRng } from "../tests/_fuzz.ts";

const DTYPE_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, U8: 1, I8: 1 };

/** The 8-byte length prefix + JSON header, and each tensor's byte size. */
export function buildSafetensorsHeader(
  tensors: { name: string; dtype: string; shape: number[] }[],
): { header: Uint8Array; sizes: number[] } {
  const entries: Record<string, unknown> = {};
  const sizes: number[] = [];
  let offset = 0;
  for (const t of tensors) {
    const size = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype]!;
    entries[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    sizes.push(size);
    offset += size;
  }
  let json = JSON.stringify(entries);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const text = new TextEncoder().encode(json);
  const header = new Uint8Array(8 + text.length);
  new DataView(header.buffer).setBigUint64(0, BigInt(text.length), true);
  header.set(text, 8);
  return { header, sizes };
}

/** Options of {@link writeSyntheticCheckpoint}. */
export interface SyntheticCheckpointOptions {
  layers: number;
  /** Rows of the embedding (2048 keeps the file small; 128256 is the real 2B-4T vocabulary). */
  vocab: number;
}

/** The tensor names and shapes of a 2B-4T-shaped BitNet checkpoint. */
function checkpointShapes(layers: number, vocab: number): [string, number[]][] {
  const hidden = 2560, ff = 6912, kvHeads = 5;
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
  return shapes;
}

/**
 * Writes `dir/model.safetensors` (random BF16: sign random, exponent near
 * 2^-5 for weights and 2^0 for norms), `config.json` (the fixture's, with the
 * 2B-4T sizes) and the fixture's tokenizer files. Its text means nothing.
 */
export async function writeSyntheticCheckpoint(
  dir: string,
  opts: SyntheticCheckpointOptions,
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const shapes = checkpointShapes(opts.layers, opts.vocab);
  const { header, sizes } = buildSafetensorsHeader(
    shapes.map(([name, shape]) => ({ name, dtype: "BF16", shape })),
  );
  const file = await Deno.open(`${dir}/model.safetensors`, {
    write: true,
    create: true,
    truncate: true,
  });
  try {
    await file.write(header);
    const rng = new FuzzRng(1);
    for (const [i, [name]] of shapes.entries()) {
      const bf16 = randomBf16(sizes[i]! / 2, name.includes("norm"), rng);
      const bytes = new Uint8Array(bf16.buffer);
      for (let done = 0; done < bytes.length;) done += await file.write(bytes.subarray(done));
    }
  } finally {
    file.close();
  }
  const config = JSON.parse(await Deno.readTextFile("fixtures/tiny-bitnet/config.json"));
  Object.assign(config, {
    hidden_size: 2560,
    intermediate_size: 6912,
    num_hidden_layers: opts.layers,
    num_attention_heads: 20,
    num_key_value_heads: 5,
    vocab_size: opts.vocab,
  });
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(config, null, 2));
  for (const f of ["tokenizer.json", "tokenizer_config.json"]) {
    await Deno.copyFile(`fixtures/tiny-bitnet/${f}`, `${dir}/${f}`);
  }
}

function randomBf16(n: number, isNorm: boolean, rng: FuzzRng): Uint16Array {
  const bf16 = new Uint16Array(n);
  const base = isNorm ? 0x3f80 : 0x3d00;
  for (let j = 0; j < n; j += 2) {
    const r = rng.u32();
    const sign0 = isNorm ? 0 : (r >>> 16) & 0x8000, sign1 = isNorm ? 0 : (r >>> 15) & 0x8000;
    bf16[j] = sign0 | base | (r & 0x7f);
    bf16[j + 1] = sign1 | (base - 0x80 * ((r >>> 20) & 3)) | ((r >>> 8) & 0x7f);
  }
  return bf16;
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: {
      layers: { type: "string", default: "30" },
      vocab: { type: "string", default: "128256" },
    },
    allowPositionals: true,
  });
  const dir = positionals[0];
  if (!dir) throw new Error("usage: synthetic_checkpoint.ts DIR [--layers N] [--vocab N]");
  const t0 = performance.now();
  await writeSyntheticCheckpoint(dir, {
    layers: Number(values.layers),
    vocab: Number(values.vocab),
  });
  console.error(`wrote ${dir} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
