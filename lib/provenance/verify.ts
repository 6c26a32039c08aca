/**
 * Checks a GGUF against everything written beside it: its fingerprint
 * (`<stem>.fingerprint`), its meta.json (every field the GGUF determines is
 * recomputed: verify_meta.ts), its gguf-hash manifest (`<stem>.gguf-hash`) and
 * its detached signature (`<stem>.sig`). The file is read once for the
 * digests and once more for the statistics; every mismatch is collected and
 * named (which file, which field, which tensor), never just the first.
 *
 * A GGUF that no longer parses (a damaged header, a truncation) is a failed
 * verification, not a parse error. What meta.json claims that the GGUF cannot
 * confirm (sources, options...) is listed as unverifiable without a
 * signature; a signature present but not checked (no public key) is reported
 * as "signature not checked", never as verified. The report comes as types,
 * as text ({@link formatVerifyReport}) and as JSON ({@link verifyReportJson}).
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

import { CleanGgufError, InputError, VerifyError } from "../errors.ts";
import { type GgufFile, openGguf } from "../gguf/reader.ts";
import { sha256File, sha256Hex } from "../io/hash.ts";
import {
  checkManifest,
  type GgufHashManifestEntry,
  hashGguf,
  manifestRequest,
  parseGgufHashManifest,
} from "./gguf_hash.ts";
import { companionPaths, parseFingerprint } from "./meta.ts";
import type { UnverifiableClaim } from "./verify_meta.ts";
import { verifyProvenanceSignature } from "./signature.ts";
import { checkMetaJson } from "./verify_meta.ts";

export type { UnverifiableClaim } from "./verify_meta.ts";

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
  /** Every mismatch found, each naming the file and, where it applies, the field and tensor. */
  readonly mismatches: readonly string[];
}

/** What became of the signature. */
export type SignatureState = "verified" | "not checked" | "absent" | "failed";

/** Everything `verifyGguf` found. */
export interface VerifyReport {
  readonly ggufPath: string;
  readonly checks: readonly VerifyCheck[];
  /** True when no check failed and at least one ran. */
  readonly ok: boolean;
  /** sha256 of the whole GGUF. */
  readonly fileSha256: string;
  /** sha256 of the meta.json bytes, when it exists. */
  readonly metaSha256?: string;
  /** Why the GGUF could not be parsed, when it could not. */
  readonly unreadable?: string;
  /** Claims of meta.json the GGUF cannot confirm (covered when `signature` is "verified"). */
  readonly claims: readonly UnverifiableClaim[];
  readonly signature: SignatureState;
}

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
  /** A missing signature, or one not checked for want of `publicKey`, is a failure. */
  readonly requireSignature?: boolean;
}

/** The GGUF's size; a missing or unreadable input is an InputError (exit 3). */
async function inputSize(path: string): Promise<number> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message;
    throw new InputError(`${path}: cannot read the GGUF (${why})`, { cause: e });
  }
  if (!info.isFile) throw new InputError(`${path}: not a file`);
  return info.size;
}

const decode = (b: Uint8Array) => new TextDecoder().decode(b);

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
  ggufPath: string,
  unreadable: string | undefined,
): VerifyCheck {
  let recorded: string;
  try {
    recorded = parseFingerprint(text, file);
  } catch (e) {
    return outcome("fingerprint", file, "malformed", [(e as Error).message]);
  }
  const why = unreadable === undefined
    ? "(the file changed)"
    : `: the header does not match the fingerprint (${unreadable})`;
  const found = recorded === fileSha256
    ? []
    : [`${file}: records sha256 ${recorded} but ${ggufPath} has sha256 ${fileSha256} ${why}`];
  return outcome("fingerprint", file, "sha256 of the whole file", found);
}

/** The manifest's entries, or why it does not parse. */
function parseManifest(bytes: Uint8Array, file: string): GgufHashManifestEntry[] | string {
  try {
    return parseGgufHashManifest(decode(bytes), file);
  } catch (e) {
    return (e as Error).message;
  }
}

/** What the companions are checked against. */
interface Digests {
  readonly fileSha256: string;
  readonly gguf?: GgufFile;
  readonly unreadable?: string;
  readonly hashes?: Awaited<ReturnType<typeof hashGguf>>;
}

/** True when a meta.json records per-tensor sha256 (written before xxh64 became the locator). */
function recordsTensorSha256(metaBytes: Uint8Array | undefined): boolean {
  if (!metaBytes) return false;
  try {
    const tensors = JSON.parse(decode(metaBytes))?.tensors;
    return Array.isArray(tensors) &&
      tensors.some((t) => t && typeof t === "object" && "sha256" in t);
  } catch {
    return false; // a malformed meta.json fails its own check
  }
}

/** Hashes the file: payload digests and whole-file sha256 in one read when it parses. */
async function digestsOf(
  path: string,
  manifest: GgufHashManifestEntry[] | string | undefined,
  metaBytes: Uint8Array | undefined,
) {
  let gguf: GgufFile;
  try {
    gguf = await openGguf(path);
  } catch (e) {
    // A GGUF that does not parse fails verification; its bytes are still hashed.
    if (e instanceof InputError || !(e instanceof CleanGgufError)) throw e;
    return { fileSha256: await sha256File(path), unreadable: e.message } satisfies Digests;
  }
  const perTensor = recordsTensorSha256(metaBytes)
    ? ["xxh64", "sha256"] as const
    : ["xxh64"] as const;
  const algos = manifestRequest(
    Array.isArray(manifest) ? manifest.map((e) => e.algo) : [],
    perTensor,
  );
  try {
    const hashes = await hashGguf(gguf, { ...algos, file: true });
    return { fileSha256: hashes.fileSha256!, gguf, hashes } satisfies Digests;
  } catch (e) {
    gguf.close();
    throw e;
  }
}

/** The signature check and what became of the signature. */
async function checkSignature(
  options: VerifyOptions,
  sig: Companions["sig"],
  meta: { path: string; sha256: string | undefined },
  fileSha256: string,
): Promise<[VerifyCheck, SignatureState]> {
  const required = options.requireSignature === true, sigBytes = sig.bytes;
  const failed = (detail: string, why: string): [VerifyCheck, SignatureState] => [
    outcome("signature", sig.path, detail, [why]),
    "failed",
  ];
  if (!options.publicKey) {
    const state: SignatureState = sigBytes ? "not checked" : "absent";
    const detail = sigBytes ? "present, signature not checked (no public key given)" : "not found";
    if (!required) return [skipped("signature", sig.path, detail), state];
    const why = sigBytes
      ? `${sig.path}: signature not checked: a signature is required, so give the public key to check it with`
      : `${sig.path}: no signature file (a signature is required)`;
    return [outcome("signature", sig.path, detail, [why]), state];
  }
  if (!sigBytes) {
    const why =
      `${sig.path}: no signature file (a public key was given, so the GGUF must be signed)`;
    return failed("required by the public key", why);
  }
  if (meta.sha256 === undefined) {
    const why = `${sig.path}: the signature covers ${meta.path}, which is missing`;
    return failed("covers meta.json", why);
  }
  const r = await verifyProvenanceSignature(
    options.publicKey,
    decode(sigBytes),
    sig.path,
    fileSha256,
    meta.sha256,
  );
  const mismatches = r.reason ? [r.reason] : [];
  const check = outcome("signature", sig.path, `Ed25519, key-id ${r.keyId}`, mismatches);
  return [check, r.ok ? "verified" : "failed"];
}

/**
 * The companions' paths and bytes (undefined when an optional one is absent):
 * explicit paths must exist, default ones may be absent.
 */
async function readCompanions(options: VerifyOptions) {
  const defaults = companionPaths(options.ggufPath);
  const read = async (
    explicit: string | undefined,
    fallback: string,
    what: string,
    optional = explicit === undefined,
  ) => {
    const path = explicit ?? fallback;
    try {
      return { path, bytes: await Deno.readFile(path) };
    } catch (e) {
      if (e instanceof Deno.errors.NotFound && optional) return { path, bytes: undefined };
      const why = (e as Error).message;
      throw new InputError(`${path}: cannot read the ${what} (${why})`, { cause: e });
    }
  };
  return {
    fp: await read(options.fingerprintPath, defaults.fingerprint, "fingerprint"),
    meta: await read(options.metaPath, defaults.meta, "meta.json"),
    manifest: await read(options.manifestPath, defaults.manifest, "gguf-hash manifest"),
    // With a public key even an explicit signature path may be absent: checkSignature says so.
    sig: await read(
      options.signaturePath,
      defaults.signature,
      "signature",
      options.signaturePath === undefined || !!options.publicKey,
    ),
  };
}

type Companions = Awaited<ReturnType<typeof readCompanions>>;

/** meta.json against the digests and the parsed GGUF (or why it does not parse). */
async function metaCheck(
  meta: Companions["meta"],
  d: Digests,
  ggufPath: string,
  fileSize: number,
): Promise<[VerifyCheck, UnverifiableClaim[]]> {
  if (!meta.bytes) return [skipped("meta.json", meta.path, "not found"), []];
  const parsed = d.gguf
    ? { gguf: d.gguf, digests: new Map(d.hashes!.tensors.map((t) => [t.name, t.hex])) }
    : { error: d.unreadable! };
  const m = await checkMetaJson({
    file: meta.path,
    bytes: meta.bytes,
    ggufPath,
    fileSize,
    fileSha256: d.fileSha256,
    parsed,
  });
  return [outcome("meta.json", meta.path, m.detail, m.mismatches), m.claims];
}

/** The manifest's lines against the digests. */
function manifestCheck(
  path: string,
  manifest: GgufHashManifestEntry[] | string | undefined,
  d: Digests,
): VerifyCheck {
  if (manifest === undefined) return skipped("manifest", path, "not found");
  if (typeof manifest === "string") return outcome("manifest", path, "malformed", [manifest]);
  const unreadable = `${path}: cannot be checked: ${d.unreadable}`;
  if (!d.gguf) return outcome("manifest", path, "not checked", [unreadable]);
  const r = checkManifest(path, manifest, d.gguf, d.hashes!);
  return outcome("manifest", path, r.detail, r.mismatches);
}

/**
 * Verifies a GGUF against its companions (see the module comment). Returns a
 * report; use {@link assertVerified} to turn failures into a VerifyError.
 * Missing default companions are skipped; a missing GGUF, or explicit paths
 * that do not exist, are an InputError (exit 3). A malformed companion or a
 * damaged GGUF is a failed check, not a crash.
 *
 * @example
 * ```ts
 * import { loadKey } from "./signature.ts";
 * const report = await verifyGguf({
 *   ggufPath: "models/clean/clean-f16.gguf",
 *   publicKey: await loadKey("keys/signing.pem.pub", "public"),
 * });
 * console.log(report.ok, report.signature, report.claims.length);
 * ```
 */
export async function verifyGguf(options: VerifyOptions): Promise<VerifyReport> {
  const g = options.ggufPath;
  const fileSize = await inputSize(g);
  const c = await readCompanions(options);
  const manifest = c.manifest.bytes && parseManifest(c.manifest.bytes, c.manifest.path);
  const d: Digests = await digestsOf(g, manifest, c.meta.bytes);
  try {
    const fingerprint = c.fp.bytes
      ? checkFingerprint(c.fp.path, decode(c.fp.bytes), d.fileSha256, g, d.unreadable)
      : skipped("fingerprint", c.fp.path, "not found");
    const [meta, claims] = await metaCheck(c.meta, d, g, fileSize);
    const metaSha256 = c.meta.bytes && sha256Hex(c.meta.bytes);
    const metaDigest = { path: c.meta.path, sha256: metaSha256 };
    const [sig, signature] = await checkSignature(options, c.sig, metaDigest, d.fileSha256);
    const checks = [fingerprint, meta, manifestCheck(c.manifest.path, manifest, d), sig];
    return {
      ggufPath: g,
      checks,
      ok: checks.some((k) => k.status !== "skipped") && checks.every((k) => k.status !== "failed"),
      fileSha256: d.fileSha256,
      claims,
      signature,
      ...(metaSha256 !== undefined && { metaSha256 }),
      ...(d.unreadable !== undefined && { unreadable: d.unreadable }),
    };
  } finally {
    d.gguf?.close();
  }
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
    const damaged = report.unreadable === undefined
      ? ""
      : `; and it is damaged: ${report.unreadable}`;
    throw new VerifyError(
      `${report.ggufPath}: nothing to verify against (no fingerprint, meta.json, gguf-hash manifest or signature beside it)${damaged}`,
    );
  }
  throw new VerifyError(
    `${report.ggufPath}: ${mismatches.length} mismatch${mismatches.length === 1 ? "" : "es"}:\n` +
      mismatches.map((m) => `  - ${m}`).join("\n"),
  );
}

/** The one-word outcome: only a checked signature makes a report "verified". */
export type Verdict = "verified" | "signature not checked" | "not signed" | "failed";

/** The verdict of a report ("not signed" when every check passed and there is no .sig). */
function verdictOf(report: VerifyReport): Verdict {
  if (!report.ok) return "failed";
  if (report.signature === "verified") return "verified";
  return report.signature === "not checked" ? "signature not checked" : "not signed";
}

/** One line per kind of claim: `tensors[3].x` and `tensors[7].x` become `tensors[*].x (2 tensors)`. */
function groupedClaims(claims: readonly UnverifiableClaim[]): string[] {
  const groups = new Map<string, { reason: string; fields: Set<string> }>();
  for (const c of claims) {
    const pattern = c.field.replace(/\[\d+\]/g, "[*]");
    const g = groups.get(pattern) ?? { reason: c.reason, fields: new Set<string>() };
    g.fields.add(c.field);
    groups.set(pattern, g);
  }
  return [...groups].map(([pattern, g]) => {
    const some = pattern.includes("[*]") && !g.fields.has(pattern);
    return `${pattern}${some ? ` (${g.fields.size} tensors)` : ""}: ${g.reason}`;
  });
}

function verdictLine(report: VerifyReport): string {
  const n = report.claims.length;
  const unverifiable = n === 0 ? "" : `; ${n} claim${n === 1 ? "" : "s"} of meta.json unverifiable`;
  switch (verdictOf(report)) {
    case "failed":
      return "NOT verified";
    case "verified":
      return "verified: the GGUF matches every recomputable field and the checked signature covers the rest";
    case "signature not checked":
      return `signature not checked (no public key given): the GGUF matches its companions${unverifiable}`;
    case "not signed":
      return `not signed: the GGUF matches its companions${unverifiable} without a signature`;
  }
}

/**
 * A human-readable report: one line per check, each followed by its
 * mismatches (unless `mismatches: false`, when the caller prints them another
 * way), then what could not be verified, then the verdict.
 *
 * @example
 * ```ts
 * const report = await verifyGguf({ ggufPath: "m.gguf" });
 * console.log(formatVerifyReport(report));
 * ```
 */
export function formatVerifyReport(
  report: VerifyReport,
  options: { mismatches?: boolean } = {},
): string {
  const lines = [`${report.ggufPath}: sha256 ${report.fileSha256}`];
  if (report.unreadable !== undefined) lines.push(`  damaged: ${report.unreadable}`);
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
  if (report.claims.length > 0) {
    lines.push(
      report.signature === "verified"
        ? "  covered by the signature (meta.json claims the GGUF cannot confirm):"
        : "  unverifiable without a signature (meta.json claims the GGUF cannot confirm):",
    );
    for (const g of groupedClaims(report.claims)) lines.push(`    - ${g}`);
  }
  lines.push(verdictLine(report));
  return lines.join("\n") + "\n";
}

/**
 * The report as plain JSON, as `--json` prints it (what the text report says,
 * field by field).
 *
 * @example
 * ```ts
 * const report = await verifyGguf({ ggufPath: "m.gguf" });
 * const json = verifyReportJson(report);
 * json.unverifiable.map((c) => c.field); // ["tool", "options", "sources", ...]
 * ```
 */
export function verifyReportJson(report: VerifyReport) {
  const signed = report.signature === "verified";
  return {
    gguf: report.ggufPath,
    sha256: report.fileSha256,
    meta_sha256: report.metaSha256 ?? null,
    ok: report.ok,
    verdict: verdictOf(report),
    signature: report.signature,
    damaged: report.unreadable ?? null,
    checks: report.checks,
    // The claims of meta.json the GGUF cannot confirm, under the second key when a checked
    // signature covers them.
    unverifiable: signed ? [] : report.claims,
    covered_by_signature: signed ? report.claims : [],
  };
}
