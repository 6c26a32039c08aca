/**
 * Detached Ed25519 signatures over a GGUF's provenance (Web Crypto only).
 *
 * The signed message is the UTF-8 text, exactly:
 *
 * ```text
 * clean-gguf-signature-v1
 * fingerprint sha256-<64 hex: sha256 of the whole GGUF file>
 * meta.json sha256-<64 hex: sha256 of the meta.json file's bytes>
 * ```
 *
 * each line ending in "\n" (lower-case hex, no file names, so renaming the
 * files keeps the signature valid). The fingerprint covers every byte of the
 * GGUF, so the per-tensor digests in meta.json and the gguf-hash manifest are
 * covered through it; the meta.json digest covers the export options and the
 * source files' hashes recorded there.
 *
 * Key files are PEM, the format `openssl genpkey -algorithm ed25519` writes:
 * the private key as PKCS#8 ("BEGIN PRIVATE KEY"), the public key as SPKI
 * ("BEGIN PUBLIC KEY"). The signature file (`<stem>.sig`) is text:
 *
 * ```text
 * clean-gguf-signature-v1
 * algorithm: ed25519
 * key-id: sha256-<hex of the SPKI DER of the public key>
 * signature: <base64 of the 64-byte signature>
 * ```
 *
 * @example
 * ```ts
 * import { generateSigningKeyPair, importKeyPem } from "./signature.ts";
 * import { signProvenance, verifyProvenanceSignature } from "./signature.ts";
 * const pair = await generateSigningKeyPair();
 * const sk = await importKeyPem(pair.privatePem, "key.pem", "private");
 * const pk = await importKeyPem(pair.publicPem, "key.pem.pub", "public");
 * const sig = await signProvenance(sk, "ab".repeat(32), "cd".repeat(32));
 * (await verifyProvenanceSignature(pk, sig, "sig", "ab".repeat(32), "cd".repeat(32))).ok; // true
 * ```
 * @module
 */

import { basename, dirname, join, resolve } from "node:path";
import {
  FormatError,
  InputError,
  OutputError,
  rethrowAs,
  UsageError,
  VerifyError,
} from "../errors.ts";
import { AtomicOutputs } from "../io/atomic.ts";
import { sha256File, sha256Hex } from "../io/hash.ts";
import { companionPaths, parseFingerprint } from "./meta.ts";

/** First line of the signed message and of the signature file. */
export const SIGNATURE_FORMAT = "clean-gguf-signature-v1";

const ED25519 = { name: "Ed25519" } as const;
const HEX64 = /^[0-9a-f]{64}$/;

function toBase64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)); // keys and signatures are a few dozen bytes
}

function fromBase64(text: string, source: string): Uint8Array<ArrayBuffer> {
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    throw new FormatError(`${source}: invalid base64`);
  }
}

/**
 * The exact bytes that are signed (see the module comment).
 *
 * @example
 * ```ts
 * new TextDecoder().decode(signedMessage("ab".repeat(32), "cd".repeat(32)));
 * // "clean-gguf-signature-v1\nfingerprint sha256-abab…\nmeta.json sha256-cdcd…\n"
 * ```
 */
export function signedMessage(
  fingerprintHex: string,
  metaSha256Hex: string,
): Uint8Array<ArrayBuffer> {
  for (const [what, h] of [["fingerprint", fingerprintHex], ["meta.json digest", metaSha256Hex]]) {
    if (!HEX64.test(h!)) {
      throw new RangeError(`${what} must be 64 lower-case hex digits, got "${h}"`);
    }
  }
  return new TextEncoder().encode(
    `${SIGNATURE_FORMAT}\nfingerprint sha256-${fingerprintHex}\nmeta.json sha256-${metaSha256Hex}\n`,
  );
}

function toPem(label: string, der: Uint8Array): string {
  const lines = toBase64(der).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** The two kinds of key file: PEM label, DER format, what the key may do, and its name. */
const KEY_KINDS = {
  private: { label: "PRIVATE KEY", format: "pkcs8", usage: "sign", name: "PKCS#8 private" },
  public: { label: "PUBLIC KEY", format: "spki", usage: "verify", name: "SPKI public" },
} as const;

/** Which key a PEM text or file holds. */
export type KeyKind = keyof typeof KEY_KINDS;

/**
 * Imports a PEM Ed25519 key of `kind`: PKCS#8 private or SPKI public
 * (extractable, so that a private key's public half and key id can be derived).
 *
 * @example
 * ```ts
 * const key = await importKeyPem(await Deno.readTextFile("signing.pem.pub"), "signing.pem.pub", "public");
 * ```
 */
export async function importKeyPem(
  pem: string,
  source: string,
  kind: KeyKind,
): Promise<CryptoKey> {
  const { label, format, usage, name } = KEY_KINDS[kind];
  const m = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`)
    .exec(pem);
  if (!m) {
    throw new FormatError(
      `${source}: not a PEM "${label}" (expected a ${name} Ed25519 key, as written by ` +
        `--generate-key or openssl genpkey -algorithm ed25519)`,
    );
  }
  const der = fromBase64(m[1]!.replace(/\s+/g, ""), source);
  try {
    return await crypto.subtle.importKey(format, der, ED25519, true, [usage]);
  } catch (e) {
    const why = (e as Error).message;
    throw new FormatError(`${source}: not an Ed25519 ${name} key (${why})`, { cause: e });
  }
}

/**
 * Generates an Ed25519 key pair as PEM texts (PKCS#8 private, SPKI public).
 *
 * @example
 * ```ts
 * const { privatePem, publicPem } = await generateSigningKeyPair();
 * privatePem.startsWith("-----BEGIN PRIVATE KEY-----"); // true
 * ```
 */
export async function generateSigningKeyPair(): Promise<{ privatePem: string; publicPem: string }> {
  const pair = await crypto.subtle.generateKey(ED25519, true, ["sign", "verify"]) as CryptoKeyPair;
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", pair.publicKey));
  return { privatePem: toPem("PRIVATE KEY", pkcs8), publicPem: toPem("PUBLIC KEY", spki) };
}

/**
 * The public key of a private key (from its JWK "x").
 *
 * @example
 * ```ts
 * const { privatePem } = await generateSigningKeyPair();
 * const pub = await publicKeyOf(await importKeyPem(privatePem, "key.pem", "private"));
 * ```
 */
export async function publicKeyOf(privateKey: CryptoKey): Promise<CryptoKey> {
  const jwk = await crypto.subtle.exportKey("jwk", privateKey);
  if (jwk.x === undefined) throw new FormatError("private key has no public component");
  const publicJwk = { kty: "OKP", crv: "Ed25519", x: jwk.x };
  return await crypto.subtle.importKey("jwk", publicJwk, ED25519, true, ["verify"]);
}

/**
 * `sha256-<hex>` of the public key's SPKI DER: names the key in a signature.
 *
 * @example
 * ```ts
 * const { publicPem } = await generateSigningKeyPair();
 * await keyIdOf(await importKeyPem(publicPem, "key.pub", "public")); // "sha256-…"
 * ```
 */
export async function keyIdOf(publicKey: CryptoKey): Promise<string> {
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", publicKey));
  return `sha256-${sha256Hex(spki)}`;
}

/**
 * Signs the provenance message; returns the signature file's text.
 *
 * @example
 * ```ts
 * declare const privateKey: CryptoKey, fileSha256: string, metaSha256: string;
 * const text = await signProvenance(privateKey, fileSha256, metaSha256);
 * await Deno.writeTextFile("clean-f16.sig", text);
 * ```
 */
export async function signProvenance(
  privateKey: CryptoKey,
  fingerprintHex: string,
  metaSha256Hex: string,
): Promise<string> {
  const sig = new Uint8Array(
    await crypto.subtle.sign(ED25519, privateKey, signedMessage(fingerprintHex, metaSha256Hex)),
  );
  const keyId = await keyIdOf(await publicKeyOf(privateKey));
  return `${SIGNATURE_FORMAT}\nalgorithm: ed25519\nkey-id: ${keyId}\nsignature: ${toBase64(sig)}\n`;
}

/**
 * Parses a signature file; anything unexpected is a {@link FormatError}.
 *
 * @example
 * ```ts
 * const { keyId } = parseSignatureFile(await Deno.readTextFile("clean-f16.sig"), "clean-f16.sig");
 * ```
 */
export function parseSignatureFile(
  text: string,
  source: string,
): { keyId: string; signature: Uint8Array<ArrayBuffer> } {
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l.length > 0);
  const first = `first line must be "${SIGNATURE_FORMAT}"`;
  if (lines[0] !== SIGNATURE_FORMAT) {
    throw new FormatError(`${source}: not a signature file (${first})`);
  }
  const fields = new Map<string, string>();
  for (const l of lines.slice(1)) {
    const m = /^([a-z-]+):\s*(\S+)$/.exec(l);
    if (!m) throw new FormatError(`${source}: unexpected line "${l}"`);
    fields.set(m[1]!, m[2]!);
  }
  const algorithm = fields.get("algorithm");
  if (algorithm !== "ed25519") {
    throw new FormatError(`${source}: algorithm must be "ed25519", got "${algorithm}"`);
  }
  const keyId = fields.get("key-id");
  if (keyId === undefined || !/^sha256-[0-9a-f]{64}$/.test(keyId)) {
    throw new FormatError(`${source}: missing or malformed key-id`);
  }
  const b64 = fields.get("signature");
  if (b64 === undefined) throw new FormatError(`${source}: missing signature line`);
  const signature = fromBase64(b64, source), n = signature.length;
  if (n !== 64) {
    throw new FormatError(`${source}: an Ed25519 signature has 64 bytes, this one ${n}`);
  }
  return { keyId, signature };
}

/** The outcome of a signature check; `reason` says what is wrong. */
export interface SignatureCheck {
  readonly ok: boolean;
  readonly keyId: string;
  readonly reason?: string;
}

/**
 * Checks a signature file's text against the public key and the digests
 * computed from the files. A malformed signature file is a failed check.
 *
 * @example
 * ```ts
 * declare const pk: CryptoKey, sigText: string, fileSha256: string, metaSha256: string;
 * const r = await verifyProvenanceSignature(pk, sigText, "clean-f16.sig", fileSha256, metaSha256);
 * if (!r.ok) console.error(r.reason);
 * ```
 */
export async function verifyProvenanceSignature(
  publicKey: CryptoKey,
  signatureText: string,
  source: string,
  fingerprintHex: string,
  metaSha256Hex: string,
): Promise<SignatureCheck> {
  const keyId = await keyIdOf(publicKey);
  let parsed: ReturnType<typeof parseSignatureFile>;
  try {
    parsed = parseSignatureFile(signatureText, source);
  } catch (e) {
    return { ok: false, keyId, reason: (e as Error).message };
  }
  const message = signedMessage(fingerprintHex, metaSha256Hex);
  if (await crypto.subtle.verify(ED25519, publicKey, parsed.signature, message)) {
    return { ok: true, keyId };
  }
  const reason = parsed.keyId !== keyId
    ? `${source}: signed with another key (key-id ${parsed.keyId}; the public key given is ${keyId})`
    : `${source}: the signature does not match the GGUF's fingerprint and meta.json (one of them changed after signing)`;
  return { ok: false, keyId, reason };
}

/**
 * Reads and imports a PEM key file of `kind`; an unreadable file is an InputError.
 *
 * @example
 * ```ts
 * const sk = await loadKey("keys/signing.pem", "private");
 * const pk = await loadKey("keys/signing.pem.pub", "public");
 * ```
 */
export async function loadKey(path: string, kind: KeyKind): Promise<CryptoKey> {
  const what = `${path}: cannot read the ${kind} key`;
  return await importKeyPem(await rethrowAs(InputError, what, Deno.readTextFile(path)), path, kind);
}

async function writeNew(path: string, text: string, mode: number): Promise<void> {
  try {
    await Deno.writeTextFile(path, text, { createNew: true, mode });
  } catch (e) {
    const why = e instanceof Deno.errors.AlreadyExists
      ? "already exists (refusing to overwrite a key)"
      : (e as Error).message;
    throw new OutputError(`${path}: cannot write the key (${why})`, { cause: e });
  }
}

/** The nearest folder from `path` up that holds a `.git` entry, or null (found without git). */
async function gitWorkTreeOf(path: string): Promise<string | null> {
  let dir = resolve(path);
  for (;;) {
    try {
      await Deno.lstat(join(dir, ".git"));
      return dir;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

async function makeFolder(dir: string, mode: number): Promise<void> {
  const what = `${dir}: cannot create the key's folder`;
  await rethrowAs(OutputError, what, Deno.mkdir(dir, { recursive: true, mode }));
}

/**
 * Generates a key pair and writes it: the private key (mode 0600) to
 * `privatePath`, the public key to `publicPath`, creating their folders (the
 * private key's with mode 0700). Existing files are never overwritten
 * ({@link OutputError}). A private key inside a git work tree is refused
 * ({@link UsageError}) unless `force`: one `git add` would publish it.
 *
 * @example
 * ```ts
 * const { keyId } = await generateKeyFiles("/home/me/.keys/signing.key", "/home/me/.keys/signing.key.pub");
 * ```
 */
export async function generateKeyFiles(
  privatePath: string,
  publicPath: string,
  options: { readonly force?: boolean } = {},
): Promise<{ keyId: string }> {
  const tree = await gitWorkTreeOf(dirname(privatePath));
  if (tree !== null && !options.force) {
    throw new UsageError(
      `${privatePath}: refusing to write a private key inside the git work tree ${tree} ` +
        `(one git add would publish it); choose a folder outside it, or pass --force`,
    );
  }
  const pair = await generateSigningKeyPair();
  await makeFolder(dirname(privatePath), 0o700);
  await makeFolder(dirname(publicPath), 0o755);
  await writeNew(privatePath, pair.privatePem, 0o600);
  try {
    await writeNew(publicPath, pair.publicPem, 0o644);
  } catch (e) {
    await Deno.remove(privatePath).catch(() => {});
    throw e;
  }
  return { keyId: await keyIdOf(await importKeyPem(pair.publicPem, publicPath, "public")) };
}

/** What {@link signGguf} needs. */
export interface SignGgufOptions {
  readonly ggufPath: string;
  readonly privateKey: CryptoKey;
  /** Default `<stem>.meta.json`. */
  readonly metaPath?: string;
  /** Default `<stem>.fingerprint`; checked against the file when it exists. */
  readonly fingerprintPath?: string;
  /** Default `<stem>.sig`. */
  readonly signaturePath?: string;
  /** sha256 of the GGUF if already computed (saves a read). */
  readonly fileSha256?: string;
}

/**
 * Signs a GGUF's fingerprint and meta.json and writes `<stem>.sig`
 * atomically. Refuses ({@link VerifyError}) when the fingerprint file, or the
 * `fingerprint` recorded in meta.json, disagrees with the file: signing a
 * file that no longer matches its provenance would certify the wrong thing.
 * Run `verifyGguf` first for the per-tensor checks.
 *
 * @example
 * ```ts
 * const sk = await loadKey("keys/signing.pem", "private");
 * const { signaturePath } = await signGguf({ ggufPath: "models/clean/clean-f16.gguf", privateKey: sk });
 * ```
 */
export async function signGguf(
  options: SignGgufOptions,
): Promise<{ signaturePath: string; keyId: string; fileSha256: string; metaSha256: string }> {
  const paths = companionPaths(options.ggufPath);
  const signaturePath = options.signaturePath ?? paths.signature;
  // The folder's lock before anything is read: no export can replace the
  // files between the check below and the signature's commit.
  const out = await AtomicOutputs.create(dirname(signaturePath));
  try {
    const signed = await checkedSignature(options, paths);
    const f = await out.file(basename(signaturePath));
    await f.writeText(signed.text);
    await out.commit();
    return {
      signaturePath,
      keyId: parseSignatureFile(signed.text, signaturePath).keyId,
      fileSha256: signed.fileSha256,
      metaSha256: signed.metaSha256,
    };
  } catch (e) {
    await out.abort();
    throw e;
  }
}

/** Reads what is signed, checks that the fingerprints agree with the file, and signs. */
async function checkedSignature(
  options: SignGgufOptions,
  paths: ReturnType<typeof companionPaths>,
): Promise<{ text: string; fileSha256: string; metaSha256: string }> {
  const metaPath = options.metaPath ?? paths.meta;
  const fingerprintPath = options.fingerprintPath ?? paths.fingerprint;
  const what = `${metaPath}: cannot read the meta.json to sign`;
  const metaBytes = await rethrowAs(InputError, what, Deno.readFile(metaPath));
  const metaSha256 = sha256Hex(metaBytes);
  const fileSha256 = options.fileSha256 ?? await sha256File(options.ggufPath);

  const recorded: [string, string][] = [];
  const fpText = await Deno.readTextFile(fingerprintPath).catch((e) => {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new InputError(`${fingerprintPath}: cannot read (${(e as Error).message})`, { cause: e });
  });
  if (fpText !== undefined) {
    recorded.push([fingerprintPath, parseFingerprint(fpText, fingerprintPath)]);
  }
  let meta: unknown;
  try {
    meta = JSON.parse(new TextDecoder().decode(metaBytes));
  } catch (e) {
    throw new FormatError(`${metaPath}: not JSON (${(e as Error).message})`, { cause: e });
  }
  const metaFp = (meta as { fingerprint?: unknown }).fingerprint;
  if (typeof metaFp === "string") {
    recorded.push([`${metaPath} ("fingerprint")`, metaFp.replace(/^sha256-/, "")]);
  }
  const wrong = recorded.filter(([, h]) => h !== fileSha256).map(([at, h]) => `${at} records ${h}`);
  if (wrong.length > 0) {
    const why = `its sha256 is ${fileSha256} but ${wrong.join(" and ")}`;
    throw new VerifyError(`${options.ggufPath}: refusing to sign: ${why}`);
  }

  const text = await signProvenance(options.privateKey, fileSha256, metaSha256);
  return { text, fileSha256, metaSha256 };
}
