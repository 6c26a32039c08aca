/**
 * Checks a GGUF against everything written beside it: its fingerprint
 * (`<stem>.fingerprint`), its meta.json (per-tensor sha256, recorded
 * fingerprint and size), its gguf-hash manifest (`<stem>.gguf-hash`) and its
 * detached signature (`<stem>.sig`). The file is read once; every mismatch is
 * collected and named (which file, which tensor), never just the first.
 *
 * @example
 * ```ts
 * import { assertVerified, formatVerifyReport, verifyGguf } from "./verify.ts";
 * const report = await verifyGguf({ ggufPath: "models/clean/clean-f16.gguf" });
 * console.log(formatVerifyReport(report));
 * assertVerified(report); // throws VerifyError (exit 19) listing every mismatch
 * ```
 * @module
 */

import { createHash } from "node:crypto";
import { InputError, VerifyError } from "../errors.ts";
import { type GgufFile, openGguf } from "../gguf/reader.ts";
import {
  GGUF_HASH_ALGOS,
  type GgufHashAlgo,
  type GgufHashes,
  type GgufHashManifestEntry,
  hashGguf,
  parseGgufHashManifest,
  type TensorHashAlgo,
} from "./gguf_hash.ts";
import { companionPaths, parseFingerprint } from "./meta.ts";
import { verifyProvenanceSignature } from "./signature.ts";

/** Which files to check. Explicit paths must exist; default companions are optional. */
export interface VerifyOptions {
  readonly ggufPath: string;
  /** Default `<stem>.fingerprint`. */
  readonly fingerprintPath?: string;
  /** Default `<stem>.meta.json`. */
  readonly metaPath?: string;
  /** Default `<stem>.gguf-hash`. */
  readonly manifestPath?: string;
  /** Default `<stem>.sig`. */
  readonly signaturePath?: string;
  /** When given, the signature must exist and verify with this key. */
  readonly publicKey?: CryptoKey;
}

/** The four things checked. */
export type VerifyCheckName = "fingerprint" | "meta.json" | "manifest" | "signature";

/** The outcome of one check. */
export interface VerifyCheck {
  readonly name: VerifyCheckName;
  readonly file: string;
  /** "skipped": the file is absent (or, for the signature, no public key was given). */
  readonly status: "ok" | "failed" | "skipped";
  /** One line: what was checked, or why it was skipped. */
  readonly detail: string;
  /** Every mismatch found, each naming the file and, where it applies, the tensor. */
  readonly mismatches: readonly string[];
}

/** Everything {@link verifyGguf} found. */
export interface VerifyReport {
  readonly ggufPath: string;
  readonly checks: readonly VerifyCheck[];
  /** True when no check failed and at least one ran. */
  readonly ok: boolean;
  /** sha256 of the whole GGUF. */
  readonly fileSha256: string;
  /** sha256 of the meta.json bytes, when it exists. */
  readonly metaSha256?: string;
}

interface Companion {
  readonly path: string;
  readonly explicit: boolean;
}

/** The text of a companion, undefined when an optional one is absent. */
async function readCompanion(c: Companion, what: string): Promise<Uint8Array | undefined> {
  try {
    return await Deno.readFile(c.path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound && !c.explicit) return undefined;
    throw new InputError(`${c.path}: cannot read the ${what} (${(e as Error).message})`, {
      cause: e,
    });
  }
}

const decode = (b: Uint8Array) => new TextDecoder().decode(b);
const stripSha = (h: string) => h.replace(/^sha256-/, "").toLowerCase();

function skipped(name: VerifyCheckName, file: string, detail: string): VerifyCheck {
  return { name, file, status: "skipped", detail, mismatches: [] };
}

function outcome(
  name: VerifyCheckName,
  file: string,
  detail: string,
  mismatches: string[],
): VerifyCheck {
  return { name, file, status: mismatches.length === 0 ? "ok" : "failed", detail, mismatches };
}

function checkFingerprint(
  file: string,
  text: string,
  fileSha256: string,
  gguf: string,
): VerifyCheck {
  let recorded: string;
  try {
    recorded = parseFingerprint(text, file);
  } catch (e) {
    return outcome("fingerprint", file, "malformed", [(e as Error).message]);
  }
  return outcome(
    "fingerprint",
    file,
    `sha256 of the whole file`,
    recorded === fileSha256 ? [] : [
      `${file}: records sha256 ${recorded} but ${gguf} has sha256 ${fileSha256} (the file changed)`,
    ],
  );
}

interface MetaTensorEntry {
  gguf_name: string;
  sha256: string;
}

function checkMeta(
  file: string,
  bytes: Uint8Array,
  gguf: GgufFile,
  hashes: GgufHashes,
  fileSha256: string,
): VerifyCheck {
  let meta: unknown;
  try {
    meta = JSON.parse(decode(bytes));
  } catch (e) {
    return outcome("meta.json", file, "malformed", [`${file}: not JSON (${(e as Error).message})`]);
  }
  if (
    typeof meta !== "object" || meta === null ||
    !Array.isArray((meta as { tensors?: unknown }).tensors)
  ) {
    return outcome("meta.json", file, "malformed", [`${file}: no "tensors" array`]);
  }
  const m = meta as { tensors: unknown[]; fingerprint?: unknown; size?: unknown };
  const bad: string[] = [];
  const g = gguf.path;
  if (m.fingerprint !== undefined) {
    if (typeof m.fingerprint !== "string") bad.push(`${file}: "fingerprint" is not a string`);
    else if (stripSha(m.fingerprint) !== fileSha256) {
      bad.push(`${file}: "fingerprint" is ${m.fingerprint} but ${g} has sha256 ${fileSha256}`);
    }
  }
  if (m.size !== undefined && m.size !== gguf.fileSize) {
    bad.push(`${file}: "size" is ${JSON.stringify(m.size)} but ${g} has ${gguf.fileSize} bytes`);
  }
  const actual = new Map(hashes.tensors.map((t) => [t.name, t.hex.sha256!]));
  const listed = new Set<string>();
  m.tensors.forEach((entry, i) => {
    const e = entry as Partial<MetaTensorEntry> | null;
    if (typeof e?.gguf_name !== "string" || typeof e.sha256 !== "string") {
      bad.push(`${file}: tensors[${i}] lacks a string "gguf_name" or "sha256"`);
      return;
    }
    const name = e.gguf_name;
    if (listed.has(name)) bad.push(`${file}: tensor ${name} is listed twice`);
    listed.add(name);
    const have = actual.get(name);
    if (have === undefined) bad.push(`${file}: tensor ${name} is listed but is not in ${g}`);
    else if (stripSha(e.sha256) !== have) {
      bad.push(`${file}: tensor ${name}: sha256 ${e.sha256} recorded, ${have} in ${g}`);
    }
  });
  for (const t of gguf.tensors) {
    if (!listed.has(t.name)) bad.push(`${file}: tensor ${t.name} of ${g} is not listed`);
  }
  return outcome("meta.json", file, `${m.tensors.length} tensor sha256 entries`, bad);
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

const TENSOR_ALGOS: readonly TensorHashAlgo[] = ["xxh64", "sha1", "sha256"];

/** Which digests the manifest needs computed. */
function manifestNeeds(entries: readonly GgufHashManifestEntry[]): GgufHashAlgo[] {
  return GGUF_HASH_ALGOS.filter((a) => entries.some((e) => e.algo === a));
}

function checkManifest(
  file: string,
  entries: readonly GgufHashManifestEntry[],
  gguf: GgufFile,
  hashes: GgufHashes,
): VerifyCheck {
  const names = new Set(gguf.tensors.map((t) => t.name));
  const byName = new Map(hashes.tensors.map((t) => [t.name, t]));
  const bad: string[] = [];
  const unsupported = new Set<string>();
  const known = entries.filter((e) => {
    const ok = (GGUF_HASH_ALGOS as readonly string[]).includes(e.algo);
    if (!ok) unsupported.add(e.algo);
    return ok;
  });
  // The file label is whatever precedes ":<tensor>" on the tensor lines.
  const tensorOf = new Map(known.map((e) => [e, tensorOfLabel(e.label, names)]));
  const prefixes = new Set<string>();
  for (const [e, t] of tensorOf) if (t !== undefined) prefixes.add(e.label.slice(0, -t.length - 1));
  if (prefixes.size > 1) {
    bad.push(`${file}: tensor lines name several files (${[...prefixes].join(", ")})`);
  }
  const fileLabel = prefixes.size === 1 ? [...prefixes][0]! : undefined;

  const seen = new Map<string, Set<string>>(); // algo → tensors that have a line
  let checked = 0;
  for (const e of known) {
    const algo = e.algo as GgufHashAlgo;
    const tensor = tensorOf.get(e);
    const where = `${file} line ${e.line}`;
    if (tensor === undefined) {
      if (fileLabel !== undefined && e.label.startsWith(`${fileLabel}:`)) {
        bad.push(`${where}: tensor ${e.label.slice(fileLabel.length + 1)} is not in ${gguf.path}`);
      } else if (fileLabel !== undefined && e.label !== fileLabel) {
        bad.push(`${where}: label ${e.label} is neither ${fileLabel} nor one of its tensors`);
      } else {
        checked++;
        const have = hashes.model[algo];
        if (have !== e.hex) {
          bad.push(`${where}: whole-model ${algo} ${e.hex} recorded, ${have} computed`);
        }
      }
      continue;
    }
    if (algo === "uuid") {
      bad.push(
        `${where}: a uuid line for tensor ${tensor} (gguf-hash writes uuid for the model only)`,
      );
      continue;
    }
    checked++;
    const have = byName.get(tensor)!.hex[algo];
    if (!seen.has(algo)) seen.set(algo, new Set());
    seen.get(algo)!.add(tensor);
    if (have !== e.hex) {
      bad.push(`${where}: tensor ${tensor}: ${algo} ${e.hex} recorded, ${have} computed`);
    }
  }
  for (const [algo, got] of seen) {
    for (const t of gguf.tensors) {
      if (!got.has(t.name)) bad.push(`${file}: tensor ${t.name} has no ${algo} line`);
    }
  }
  if (checked === 0 && bad.length === 0) {
    const only = unsupported.size > 0 ? ` (only ${[...unsupported].join(", ")})` : "";
    bad.push(`${file}: no line this tool can check${only}`);
  }
  const note = unsupported.size > 0
    ? `; ${[...unsupported].join(", ")} lines not checked (unsupported)`
    : "";
  return outcome("manifest", file, `${checked} lines checked${note}`, bad);
}

/**
 * Verifies a GGUF against its companions (see the module comment). Returns a
 * report; use {@link assertVerified} to turn failures into a VerifyError.
 * Missing default companions are skipped; explicit paths that do not exist are
 * an InputError. A malformed companion is a failed check, not a crash.
 *
 * @example
 * ```ts
 * import { loadPublicKey } from "./signature.ts";
 * const report = await verifyGguf({
 *   ggufPath: "models/clean/clean-f16.gguf",
 *   publicKey: await loadPublicKey("keys/signing.pem.pub"),
 * });
 * console.log(report.ok);
 * ```
 */
export async function verifyGguf(options: VerifyOptions): Promise<VerifyReport> {
  const defaults = companionPaths(options.ggufPath);
  const pick = (explicit: string | undefined, fallback: string): Companion =>
    explicit === undefined
      ? { path: fallback, explicit: false }
      : { path: explicit, explicit: true };
  const fp = pick(options.fingerprintPath, defaults.fingerprint);
  const meta = pick(options.metaPath, defaults.meta);
  const manifest = pick(options.manifestPath, defaults.manifest);
  const sig = pick(options.signaturePath, defaults.signature);

  const fpBytes = await readCompanion(fp, "fingerprint");
  const metaBytes = await readCompanion(meta, "meta.json");
  const manifestBytes = await readCompanion(manifest, "gguf-hash manifest");
  const sigBytes = await readCompanion(
    options.publicKey ? { path: sig.path, explicit: false } : sig,
    "signature",
  );

  let manifestEntries: GgufHashManifestEntry[] | undefined;
  let manifestError: string | undefined;
  if (manifestBytes) {
    try {
      manifestEntries = parseGgufHashManifest(decode(manifestBytes), manifest.path);
    } catch (e) {
      manifestError = (e as Error).message;
    }
  }
  const needs = manifestEntries ? manifestNeeds(manifestEntries) : [];
  const tensorAlgos = TENSOR_ALGOS.filter((a) => a === "sha256" || needs.includes(a));

  const gguf = await openGguf(options.ggufPath);
  let hashes: GgufHashes;
  try {
    hashes = await hashGguf(gguf, { tensor: tensorAlgos, model: needs, file: true });
  } catch (e) {
    gguf.close();
    throw e;
  }
  const fileSha256 = hashes.fileSha256!;
  const metaSha256 = metaBytes && createHash("sha256").update(metaBytes).digest("hex");

  const checks: VerifyCheck[] = [];
  checks.push(
    fpBytes
      ? checkFingerprint(fp.path, decode(fpBytes), fileSha256, gguf.path)
      : skipped("fingerprint", fp.path, "not found"),
  );
  checks.push(
    metaBytes
      ? checkMeta(meta.path, metaBytes, gguf, hashes, fileSha256)
      : skipped("meta.json", meta.path, "not found"),
  );
  if (manifestError !== undefined) {
    checks.push(outcome("manifest", manifest.path, "malformed", [manifestError]));
  } else {
    checks.push(
      manifestEntries
        ? checkManifest(manifest.path, manifestEntries, gguf, hashes)
        : skipped("manifest", manifest.path, "not found"),
    );
  }
  gguf.close();

  if (!options.publicKey) {
    checks.push(
      skipped(
        "signature",
        sig.path,
        sigBytes ? "present, not checked (no public key given)" : "not found",
      ),
    );
  } else if (!sigBytes) {
    checks.push(outcome("signature", sig.path, "required by the public key", [
      `${sig.path}: no signature file (a public key was given, so the GGUF must be signed)`,
    ]));
  } else if (!metaBytes || metaSha256 === undefined) {
    checks.push(outcome("signature", sig.path, "covers meta.json", [
      `${sig.path}: the signature covers ${meta.path}, which is missing`,
    ]));
  } else {
    const r = await verifyProvenanceSignature(
      options.publicKey,
      decode(sigBytes),
      sig.path,
      fileSha256,
      metaSha256,
    );
    checks.push(
      outcome("signature", sig.path, `Ed25519, key-id ${r.keyId}`, r.reason ? [r.reason] : []),
    );
  }

  const ran = checks.some((c) => c.status !== "skipped");
  const ok = ran && checks.every((c) => c.status !== "failed");
  const report = { ggufPath: options.ggufPath, checks, ok, fileSha256 };
  return metaSha256 === undefined ? report : { ...report, metaSha256 };
}

/**
 * A human-readable report: one line per check, each followed by its
 * mismatches (unless `mismatches: false`, when the caller prints them another way).
 *
 * @example
 * ```ts
 * console.log(formatVerifyReport(await verifyGguf({ ggufPath: "m.gguf" })));
 * ```
 */
export function formatVerifyReport(
  report: VerifyReport,
  options: { mismatches?: boolean } = {},
): string {
  const lines = [`${report.ggufPath}: sha256 ${report.fileSha256}`];
  for (const c of report.checks) {
    const count = c.mismatches.length > 0
      ? `, ${c.mismatches.length} mismatch${c.mismatches.length === 1 ? "" : "es"}`
      : "";
    lines.push(`  ${c.status.padEnd(7)}  ${c.name.padEnd(11)}  ${c.file} (${c.detail}${count})`);
    if (options.mismatches ?? true) {
      for (const m of c.mismatches) lines.push(`           - ${m}`);
    }
  }
  if (!report.checks.some((c) => c.status !== "skipped")) {
    lines.push(
      "  nothing to verify against: no fingerprint, meta.json, manifest or signature found",
    );
  }
  lines.push(report.ok ? "verified" : "NOT verified");
  return lines.join("\n") + "\n";
}

/**
 * Throws a {@link VerifyError} naming every mismatch unless the report is ok.
 *
 * @example
 * ```ts
 * assertVerified(await verifyGguf({ ggufPath: "m.gguf" }));
 * ```
 */
export function assertVerified(report: VerifyReport): void {
  if (report.ok) return;
  const mismatches = report.checks.flatMap((c) => c.mismatches);
  if (mismatches.length === 0) {
    throw new VerifyError(
      `${report.ggufPath}: nothing to verify against (no fingerprint, meta.json, gguf-hash manifest or signature beside it)`,
    );
  }
  throw new VerifyError(
    `${report.ggufPath}: ${mismatches.length} mismatch${mismatches.length === 1 ? "" : "es"}:\n` +
      mismatches.map((m) => `  - ${m}`).join("\n"),
  );
}
