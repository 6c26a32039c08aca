/**
 * Test helper: writes tokenizer metadata into a tiny but complete GGUF (one
 * F32 tensor) and opens it again with the project's reader.
 *
 * @module
 */

import { GgmlType } from "../../lib/gguf/types.ts";
import { GgufWriter } from "../../lib/gguf/writer.ts";
import { type GgufFile, openGguf } from "../../lib/gguf/reader.ts";
import { type TokenizerMetadata, writeTokenizerMetadata } from "../../lib/tokenizer/metadata.ts";

/** Writes `meta` (plus `extra` keys) to `dir/name` and returns the path. */
export async function writeTokenizerGguf(
  dir: string,
  name: string,
  meta: TokenizerMetadata,
  extra: (w: GgufWriter) => void = () => {},
): Promise<string> {
  const w = new GgufWriter();
  w.addString("general.architecture", "llama");
  writeTokenizerMetadata(w, meta);
  extra(w);
  w.addTensorInfo("output_norm.weight", [8], GgmlType.F32);
  const path = `${dir}/${name}`;
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    await w.write({
      write: async (chunk) => {
        for (let o = 0; o < chunk.length;) o += await file.write(chunk.subarray(o));
      },
    }, (t) => new Uint8Array(t.nbytes));
  } finally {
    file.close();
  }
  return path;
}

/** Writes then opens; the caller closes the file. */
export async function roundTripGguf(
  dir: string,
  name: string,
  meta: TokenizerMetadata,
): Promise<GgufFile> {
  return await openGguf(await writeTokenizerGguf(dir, name, meta));
}

/** Reads llama.cpp's Llama-3 tokenizer test vectors: [text, expected ids without BOS]. */
export function readLlamaBpeVectors(): Promise<Array<[string, number[]]>> {
  return readVectors("llama-bpe");
}

/** Reads llama.cpp's `ggml-vocab-{name}.gguf.{inp,out}` vectors: [text, expected ids without BOS]. */
export async function readVectors(name: string): Promise<Array<[string, number[]]>> {
  const base = `tests/tokenizer/vectors/ggml-vocab-${name}.gguf`;
  const texts = (await Deno.readTextFile(`${base}.inp`)).split("\n__ggml_vocab_test__\n");
  // The file ends with a separator, so the last piece is empty and not a case.
  texts.pop();
  const lines = (await Deno.readTextFile(`${base}.out`)).split("\n");
  return texts.map((t, i) => {
    const line = lines[i] ?? "";
    return [t, line.trim() === "" ? [] : line.trim().split(" ").map(Number)];
  });
}
