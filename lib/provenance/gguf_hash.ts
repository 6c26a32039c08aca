/**
 * Hash manifests compatible with llama.cpp's `gguf-hash` (examples/gguf-hash,
 * docs/reference/formats.md, "gguf-hash"): digests of tensor payloads only (never metadata), one per
 * tensor in tensor-info order and one for the whole model over every payload
 * concatenated in that order; optionally the sha256 of the whole file (the
 * fingerprint) in the same read.
 *
 * Facts taken from gguf-hash.cpp:
 * - per tensor, lines come in the fixed order xxh64, sha1, sha256 (whatever the
 *   order of the command-line flags); the model lines follow all tensors, in the
 *   order xxh64, sha1, sha256, uuid; uuid has no per-tensor line;
 * - `printf("%-8s  %-s  %s\n", algo, hex, label)`, label `<file>:<tensor>` for a
 *   tensor and `<file>` for the model, `<file>` being the path exactly as given
 *   on the command line (so a manifest written with the bare file name is what
 *   `llama-gguf-hash --check` expects when run inside the file's folder);
 * - xxh64 (seed 0) is printed most significant byte first (the canonical form);
 * - uuid is a UUIDv5: sha1 over the 16 namespace bytes
 *   ef001206-dadc-5f6d-a15f-3359e577d4e5 then every payload, first 16 bytes of
 *   the digest with the version (5) and variant (0b10) bits set.
 *
 * A manifest is checked against a GGUF's digests ({@link checkManifest}):
 * every line must name this file or one of its tensors, with an algorithm
 * gguf-hash writes, and match; every tensor needs a line for each per-tensor
 * algorithm the manifest uses.
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash, type Hash } from "node:crypto";
import { FormatError, UsageError } from "../errors.ts";
import type { GgufFile, GgufTensorInfo } from "../gguf/reader.ts";
import { RandomAccessFile } from "../io/random_access.ts";
import { sha256File } from "../io/hash.ts";
import { Xxh64, xxh64UpdateAll } from "../io/xxh64.ts";

/** A digest gguf-hash can print. */
export type GgufHashAlgo = "xxh64" | "sha1" | "sha256" | "uuid";

/** A digest that also exists per tensor (uuid is whole-model only). */
export type TensorHashAlgo = Exclude<GgufHashAlgo, "uuid">;

/** Every algorithm, in the order gguf-hash prints its lines. */
export const GGUF_HASH_ALGOS: readonly GgufHashAlgo[] = ["xxh64", "sha1", "sha256", "uuid"];

/** UUIDv5 namespace of llama.cpp: uuid5(NAMESPACE_URL, "en.wikipedia.org/wiki/Llama.cpp"). */
const LLAMA_CPP_UUID_NAMESPACE = "ef001206-dadc-5f6d-a15f-3359e577d4e5";

/** What to compute in one read of the file. */
export interface GgufHashRequest {
  /** Digests of each tensor's payload. */
  readonly tensor?: readonly TensorHashAlgo[];
  /** Digests of all payloads concatenated in tensor-info order. */
  readonly model?: readonly GgufHashAlgo[];
  /** Also the sha256 of the whole file (what `sha256sum` prints). */
  readonly file?: boolean;
}

/** The digests of one tensor, lower-case hex. */
export interface GgufTensorHashes {
  readonly name: string;
  readonly hex: Readonly<Partial<Record<TensorHashAlgo, string>>>;
}

/** Everything {@link hashGguf} computed. */
export interface GgufHashes {
  /** In tensor-info order. */
  readonly tensors: readonly GgufTensorHashes[];
  readonly model: Readonly<Partial<Record<GgufHashAlgo, string>>>;
  /** sha256 of the whole file, when requested. */
  readonly fileSha256?: string;
}

/** An incremental digest; an XXH64 one exposes its hasher so that several share one copy. */
interface Hasher {
  update(bytes: Uint8Array): void;
  hex(): string;
  readonly xxh64?: Xxh64;
}

/**
 * A streaming UUIDv5 (RFC 9562 §5.5) over `namespace` and the bytes fed to it.
 *
 * @example
 * ```ts
 * const h = uuidV5Hasher("6ba7b811-9dad-11d1-80b4-00c04fd430c8"); // NAMESPACE_URL
 * h.update(new TextEncoder().encode("en.wikipedia.org/wiki/Llama.cpp"));
 * h.hex(); // "ef001206-dadc-5f6d-a15f-3359e577d4e5"
 * ```
 */
export function uuidV5Hasher(namespace: string): { update(b: Uint8Array): void; hex(): string } {
  const digits = namespace.replaceAll("-", "");
  if (!/^[0-9a-f]{32}$/i.test(digits)) throw new RangeError(`not a UUID: ${namespace}`);
  const sha1 = createHash("sha1").update(Buffer.from(digits, "hex"));
  return {
    update: (b) => void sha1.update(b),
    hex: () => {
      const u = sha1.digest().subarray(0, 16);
      u[6] = (u[6]! & 0x0f) | 0x50;
      u[8] = (u[8]! & 0x3f) | 0x80;
      const h = u.toString("hex");
      return [h.slice(0, 8), h.slice(8, 12), h.slice(12, 16), h.slice(16, 20), h.slice(20)]
        .join("-");
    },
  };
}

/** A new hasher of `algo`, whose hex() is what gguf-hash prints (XXH64: the u64, big-endian). */
function makeHasher(algo: GgufHashAlgo): Hasher {
  if (algo === "uuid") return uuidV5Hasher(LLAMA_CPP_UUID_NAMESPACE);
  if (algo === "xxh64") {
    const h = new Xxh64();
    return { update: (b) => h.update(b), hex: () => h.hex(), xxh64: h };
  }
  const h: Hash = createHash(algo);
  return { update: (b) => void h.update(b), hex: () => h.digest("hex") };
}

function inPrintOrder<T extends GgufHashAlgo>(algos: readonly T[]): T[] {
  return GGUF_HASH_ALGOS.filter((a) => algos.includes(a as T)) as T[];
}

/**
 * Per-tensor and model hashers fed one payload at a time, in tensor-info order:
 * what a writer uses to produce the manifest while it writes (no re-read).
 *
 * @example
 * ```ts
 * const p = new PayloadHashing({ tensor: ["sha256"], model: ["xxh64"] });
 * p.begin();
 * p.update(new Uint8Array([1, 2, 3]));
 * p.end("a.weight");
 * p.manifest("m.gguf"); // "sha256    039058c6…  m.gguf:a.weight\nxxh64     …  m.gguf\n"
 * ```
 */
export class PayloadHashing {
  readonly tensors: GgufTensorHashes[] = [];
  #tensorAlgos: TensorHashAlgo[];
  #model: [GgufHashAlgo, Hasher][];
  #current: [TensorHashAlgo, Hasher][] = [];
  /** The XXH64 hashers among #current and #model, fed with one copy of the bytes. */
  #xxh64: Xxh64[] = [];
  #others: Hasher[] = [];

  constructor(request: GgufHashRequest) {
    this.#tensorAlgos = inPrintOrder(request.tensor ?? []);
    this.#model = inPrintOrder(request.model ?? []).map((a) => [a, makeHasher(a)]);
  }

  get idle(): boolean {
    return this.#tensorAlgos.length === 0 && this.#model.length === 0;
  }

  begin(): void {
    this.#current = this.#tensorAlgos.map((a) => [a, makeHasher(a)]);
    const all = [...this.#current, ...this.#model].map(([, h]) => h);
    this.#xxh64 = all.flatMap((h) => h.xxh64 ? [h.xxh64] : []);
    this.#others = all.filter((h) => !h.xxh64);
  }

  update(bytes: Uint8Array): void {
    xxh64UpdateAll(this.#xxh64, bytes);
    for (const h of this.#others) h.update(bytes);
  }

  end(name: string): void {
    const hex = Object.fromEntries(this.#current.map(([a, h]) => [a, h.hex()]));
    this.tensors.push({ name, hex });
  }

  /** Every ended tensor's digests, and the whole model's. */
  digests(): GgufHashes {
    const model = Object.fromEntries(this.#model.map(([a, h]) => [a, h.hex()]));
    return { tensors: this.tensors, model };
  }

  /** The manifest of what was hashed (the model's algorithms), each line labelled `fileLabel`. */
  manifest(fileLabel: string): string {
    return formatGgufHashManifest(this.digests(), fileLabel, this.#model.map(([a]) => a));
  }
}

function inFileOrder(tensors: readonly GgufTensorInfo[]): boolean {
  return tensors.every((t, i) =>
    i === 0 || t.fileOffset >= tensors[i - 1]!.fileOffset + tensors[i - 1]!.nbytes
  );
}

/**
 * Computes payload digests (and optionally the whole-file sha256) of an open
 * GGUF. When the file sha256 is wanted and payloads lie in tensor-info order
 * (every file llama.cpp accepts), the file is read once; otherwise twice.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * const h = await hashGguf(gguf, { tensor: ["sha256"], model: ["xxh64"], file: true });
 * console.log(h.fileSha256, h.tensors[0]?.hex.sha256, h.model.xxh64);
 * gguf.close();
 * ```
 */
export async function hashGguf(
  gguf: GgufFile,
  request: GgufHashRequest,
  chunkSize = 1 << 22,
): Promise<GgufHashes> {
  const payloads = new PayloadHashing(request);
  const tensors = gguf.tensors;
  let fileSha256: string | undefined;

  if (request.file && inFileOrder(tensors)) {
    // One sequential read: every chunk feeds the file digest and the slices of
    // the tensors it overlaps.
    const file = await RandomAccessFile.open(gguf.path);
    const whole = createHash("sha256");
    try {
      let ti = 0;
      let pos = 0;
      let open = false;
      for await (const chunk of file.stream(0, file.size, chunkSize, "file")) {
        whole.update(chunk);
        const end = pos + chunk.length;
        while (ti < tensors.length) {
          const t = tensors[ti]!;
          const tEnd = t.fileOffset + t.nbytes;
          if (t.fileOffset >= end) break;
          if (!open) {
            payloads.begin();
            open = true;
          }
          const s = Math.max(t.fileOffset, pos);
          const e = Math.min(tEnd, end);
          if (e > s) payloads.update(chunk.subarray(s - pos, e - pos));
          if (tEnd > end) break;
          payloads.end(t.name);
          open = false;
          ti++;
        }
        pos = end;
      }
      if (ti < tensors.length || file.size !== gguf.fileSize) {
        throw new FormatError(`${gguf.path}: the file changed while it was being hashed`);
      }
    } finally {
      file.close();
    }
    fileSha256 = whole.digest("hex");
  } else {
    if (request.file) fileSha256 = await sha256File(gguf.path);
    if (!payloads.idle) {
      for (const t of tensors) {
        payloads.begin();
        for await (const chunk of gguf.streamTensor(t, chunkSize)) payloads.update(chunk);
        payloads.end(t.name);
      }
    }
  }
  const result = payloads.digests();
  return fileSha256 === undefined ? result : { ...result, fileSha256 };
}

/** One gguf-hash line: `%-8s  %-s  %s\n`. */
function line(algo: string, hex: string, label: string): string {
  return `${algo.padEnd(8)}  ${hex}  ${label}\n`;
}

/**
 * Formats digests as gguf-hash prints them (per-tensor lines for each tensor in
 * order, then the model lines). `hashes` must hold every requested algorithm.
 *
 * @example
 * ```ts
 * formatGgufHashManifest(
 *   { tensors: [{ name: "a", hex: { xxh64: "0011223344556677" } }], model: { xxh64: "8899aabbccddeeff" } },
 *   "m.gguf",
 *   ["xxh64"],
 * );
 * // "xxh64     0011223344556677  m.gguf:a\nxxh64     8899aabbccddeeff  m.gguf\n"
 * ```
 */
export function formatGgufHashManifest(
  hashes: GgufHashes,
  fileLabel: string,
  algos: readonly GgufHashAlgo[],
): string {
  const ordered = inPrintOrder(algos);
  let out = "";
  for (const t of hashes.tensors) {
    for (const a of ordered) {
      if (a === "uuid") continue;
      const hex = t.hex[a];
      if (hex === undefined) throw new RangeError(`no ${a} digest for tensor ${t.name}`);
      out += line(a, hex, `${fileLabel}:${t.name}`);
    }
  }
  for (const a of ordered) {
    const hex = hashes.model[a];
    if (hex === undefined) throw new RangeError(`no ${a} digest for the model`);
    out += line(a, hex, fileLabel);
  }
  return out;
}

/**
 * The gguf-hash manifest of `gguf` for `algos` (xxh64 alone when empty, as
 * gguf-hash defaults). `fileLabel` is the `<file>` of every line: use the bare
 * file name so that `llama-gguf-hash --check` matches when run in its folder.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * await Deno.writeTextFile(
 *   "models/clean/clean-f16.gguf-hash",
 *   await ggufHashManifest(gguf, "clean-f16.gguf", ["xxh64", "sha256"]),
 * );
 * gguf.close();
 * ```
 */
export async function ggufHashManifest(
  gguf: GgufFile,
  fileLabel: string,
  algos: readonly GgufHashAlgo[],
): Promise<string> {
  const chosen = algos.length === 0 ? ["xxh64" as const] : algos;
  return formatGgufHashManifest(await hashGguf(gguf, manifestRequest(chosen)), fileLabel, chosen);
}

/**
 * Parses a comma-separated list of algorithm names (`--algos xxh64,sha256`).
 *
 * @example
 * ```ts
 * parseGgufHashAlgos("sha256,xxh64"); // ["xxh64", "sha256"]
 * ```
 */
export function parseGgufHashAlgos(list: string): GgufHashAlgo[] {
  const names = list.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  for (const n of names) {
    if (!(GGUF_HASH_ALGOS as readonly string[]).includes(n)) {
      const known = GGUF_HASH_ALGOS.join(", ");
      throw new UsageError(
        `unknown hash algorithm "${n}" (known: ${known}; xxh3 is not supported)`,
      );
    }
  }
  return inPrintOrder(names as GgufHashAlgo[]);
}

/** One line of a manifest. */
export interface GgufHashManifestEntry {
  readonly algo: string;
  readonly hex: string;
  readonly label: string;
  /** 1-based line number. */
  readonly line: number;
}

/**
 * Parses a manifest the way gguf-hash reads one (three whitespace-separated
 * fields per line); blank lines are skipped, anything else is a
 * {@link FormatError} naming the line.
 *
 * @example
 * ```ts
 * parseGgufHashManifest("xxh64     0011223344556677  m.gguf:a\n", "m.gguf-hash");
 * // [{ algo: "xxh64", hex: "0011223344556677", label: "m.gguf:a", line: 1 }]
 * ```
 */
export function parseGgufHashManifest(text: string, source: string): GgufHashManifestEntry[] {
  const entries: GgufHashManifestEntry[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const fields = lines[i]!.trim().split(/\s+/).filter((f) => f.length > 0);
    if (fields.length === 0) continue;
    if (fields.length !== 3) {
      const expected = `expected "<algo>  <hex>  <file>[:<tensor>]"`;
      throw new FormatError(`${source}: line ${i + 1} has ${fields.length} fields (${expected})`);
    }
    entries.push({
      algo: fields[0]!,
      hex: fields[1]!.toLowerCase(),
      label: fields[2]!,
      line: i + 1,
    });
  }
  return entries;
}

/**
 * What to hash for a manifest of `model` (names gguf-hash does not print are
 * ignored): those digests of the whole model, and of every tensor (uuid has
 * none) plus `also` (xxh64, meta.json's locator; sha256 for a meta.json
 * written before xxh64).
 *
 * @example
 * ```ts
 * manifestRequest(["uuid", "sha256"], ["xxh64"]); // { tensor: ["xxh64", "sha256"], model: ["sha256", "uuid"] }
 * ```
 */
export function manifestRequest(
  model: readonly string[],
  also: readonly TensorHashAlgo[] = [],
): { tensor: TensorHashAlgo[]; model: GgufHashAlgo[] } {
  const algos = inPrintOrder(model as GgufHashAlgo[]);
  const perTensor = algos.filter((a): a is TensorHashAlgo => a !== "uuid");
  return { tensor: inPrintOrder([...also, ...perTensor]), model: algos };
}

/** Splits a manifest label into (file label, tensor) using the GGUF's tensor names. */
function tensorOfLabel(label: string, names: ReadonlySet<string>): string | undefined {
  let best: string | undefined;
  for (let i = label.indexOf(":"); i >= 0; i = label.indexOf(":", i + 1)) {
    const candidate = label.slice(i + 1);
    if (names.has(candidate) && (best === undefined || candidate.length > best.length)) {
      best = candidate;
    }
  }
  return best;
}

/** The one file label the tensor lines share (whatever precedes ":<tensor>"). */
function fileLabelOf(
  tensorOf: ReadonlyMap<GgufHashManifestEntry, string | undefined>,
  file: string,
  bad: string[],
): string | undefined {
  const prefixes = new Set<string>();
  for (const [e, t] of tensorOf) if (t !== undefined) prefixes.add(e.label.slice(0, -t.length - 1));
  if (prefixes.size > 1) {
    bad.push(`${file}: tensor lines name several files (${[...prefixes].join(", ")})`);
  }
  return prefixes.size === 1 ? [...prefixes][0]! : undefined;
}

/** A line without a tensor: the whole model's digest, or a label that names nothing here. */
function checkModelLine(
  e: GgufHashManifestEntry,
  fileLabel: string | undefined,
  where: string,
  gguf: GgufFile,
  hashes: GgufHashes,
): string | undefined {
  if (fileLabel !== undefined && e.label.startsWith(`${fileLabel}:`)) {
    return `${where}: tensor ${e.label.slice(fileLabel.length + 1)} is not in ${gguf.path}`;
  }
  if (fileLabel !== undefined && e.label !== fileLabel) {
    return `${where}: label ${e.label} is neither ${fileLabel} nor one of its tensors`;
  }
  const algo = e.algo as GgufHashAlgo;
  const have = hashes.model[algo];
  return have === e.hex
    ? undefined
    : `${where}: whole-model ${algo} ${e.hex} recorded, ${have} computed`;
}

/**
 * Checks every line (see the module comment). A line with an algorithm
 * gguf-hash does not write is a mismatch: it cannot be checked, and a
 * manifest this tool or gguf-hash wrote never has one.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * const gguf = await openGguf("m.gguf");
 * const entries = parseGgufHashManifest(await Deno.readTextFile("m.gguf-hash"), "m.gguf-hash");
 * const hashes = await hashGguf(gguf, manifestRequest(entries.map((e) => e.algo)));
 * const check = checkManifest("m.gguf-hash", entries, gguf, hashes);
 * console.log(check.detail, check.mismatches);
 * ```
 */
export function checkManifest(
  file: string,
  entries: readonly GgufHashManifestEntry[],
  gguf: GgufFile,
  hashes: GgufHashes,
): { detail: string; mismatches: string[] } {
  const names = new Set(gguf.tensors.map((t) => t.name));
  const byName = new Map(hashes.tensors.map((t) => [t.name, t]));
  const bad: string[] = [];
  const known = entries.filter((e) => {
    const ok = (GGUF_HASH_ALGOS as readonly string[]).includes(e.algo);
    if (!ok) {
      bad.push(
        `${file} line ${e.line}: unknown algorithm ${e.algo} (gguf-hash writes ${
          GGUF_HASH_ALGOS.join(", ")
        })`,
      );
    }
    return ok;
  });
  const tensorOf = new Map(known.map((e) => [e, tensorOfLabel(e.label, names)]));
  const fileLabel = fileLabelOf(tensorOf, file, bad);
  const seen = new Map<string, Set<string>>(); // algo → tensors that have a line
  let checked = 0;
  for (const e of known) {
    const algo = e.algo as GgufHashAlgo;
    const tensor = tensorOf.get(e);
    const where = `${file} line ${e.line}`;
    if (tensor === undefined) {
      const problem = checkModelLine(e, fileLabel, where, gguf, hashes);
      if (problem === undefined) checked++;
      else bad.push(problem);
    } else if (algo === "uuid") {
      bad.push(
        `${where}: a uuid line for tensor ${tensor} (gguf-hash writes uuid for the model only)`,
      );
    } else {
      checked++;
      if (!seen.has(algo)) seen.set(algo, new Set());
      seen.get(algo)!.add(tensor);
      const have = byName.get(tensor)!.hex[algo];
      if (have !== e.hex) {
        bad.push(`${where}: tensor ${tensor}: ${algo} ${e.hex} recorded, ${have} computed`);
      }
    }
  }
  for (const [algo, got] of seen) {
    for (const t of gguf.tensors) {
      if (!got.has(t.name)) bad.push(`${file}: tensor ${t.name} has no ${algo} line`);
    }
  }
  if (checked === 0 && bad.length === 0) bad.push(`${file}: no line to check`);
  return { detail: `${checked} lines checked`, mismatches: bad };
}
