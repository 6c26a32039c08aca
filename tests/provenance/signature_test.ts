import assert from "node:assert/strict";
import { FormatError, OutputError } from "../../lib/errors.ts";
import {
  generateKeyFiles,
  generateSigningKeyPair,
  importKeyPem,
  keyIdOf,
  loadKey,
  parseSignatureFile,
  publicKeyOf,
  signedMessage,
  signProvenance,
  verifyProvenanceSignature,
} from "../../lib/provenance/signature.ts";
import { digest } from "./_fixtures.ts";

const fromHex = (h: string) => Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16));
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const pem = (label: string, der: Uint8Array) =>
  `-----BEGIN ${label}-----\n${btoa(String.fromCharCode(...der))}\n-----END ${label}-----\n`;

// RFC 8032 §7.1, TEST 1 and TEST 2.
const RFC = [
  {
    seed: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    pub: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    msg: "",
    sig:
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
  },
  {
    seed: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
    pub: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    msg: "72",
    sig:
      "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
  },
];
// RFC 8410 DER prefixes for Ed25519 PKCS#8 and SPKI.
const PKCS8_PREFIX = "302e020100300506032b657004220420";
const SPKI_PREFIX = "302a300506032b6570032100";

Deno.test("PEM keys: RFC 8032 vectors sign and verify; public key and key-id derive from the private key", async () => {
  for (const v of RFC) {
    const sk = await importKeyPem(
      pem("PRIVATE KEY", fromHex(PKCS8_PREFIX + v.seed)),
      "rfc.pem",
      "private",
    );
    const pk = await importKeyPem(
      pem("PUBLIC KEY", fromHex(SPKI_PREFIX + v.pub)),
      "rfc.pub",
      "public",
    );
    const sig = new Uint8Array(await crypto.subtle.sign("Ed25519", sk, fromHex(v.msg)));
    assert.equal(toHex(sig), v.sig);
    assert.ok(await crypto.subtle.verify("Ed25519", pk, sig, fromHex(v.msg)));
    const derived = await publicKeyOf(sk);
    assert.equal(
      toHex(new Uint8Array(await crypto.subtle.exportKey("spki", derived))),
      SPKI_PREFIX + v.pub,
    );
    assert.equal(await keyIdOf(pk), `sha256-${digest("sha256", fromHex(SPKI_PREFIX + v.pub))}`);
  }
});

Deno.test("signedMessage is the documented text", () => {
  const fp = "ab".repeat(32), meta = "cd".repeat(32);
  assert.equal(
    new TextDecoder().decode(signedMessage(fp, meta)),
    `clean-gguf-signature-v1\nfingerprint sha256-${fp}\nmeta.json sha256-${meta}\n`,
  );
  assert.throws(() => signedMessage("AB".repeat(32), meta), RangeError);
  assert.throws(() => signedMessage(fp, "cd"), RangeError);
});

Deno.test("signProvenance: Ed25519 over signedMessage, checked with the raw RFC 8032 primitive; tampering is caught", async () => {
  const v = RFC[0]!;
  const sk = await importKeyPem(pem("PRIVATE KEY", fromHex(PKCS8_PREFIX + v.seed)), "k", "private");
  const pk = await importKeyPem(pem("PUBLIC KEY", fromHex(SPKI_PREFIX + v.pub)), "k.pub", "public");
  const fp = digest("sha256", new Uint8Array([1])), meta = digest("sha256", new Uint8Array([2]));
  const text = await signProvenance(sk, fp, meta);
  const lines = text.split("\n");
  assert.equal(lines[0], "clean-gguf-signature-v1");
  assert.equal(lines[1], "algorithm: ed25519");
  assert.equal(lines[2], `key-id: ${await keyIdOf(pk)}`);
  const parsed = parseSignatureFile(text, "x.sig");
  const msg = new TextEncoder().encode(
    `clean-gguf-signature-v1\nfingerprint sha256-${fp}\nmeta.json sha256-${meta}\n`,
  );
  assert.ok(await crypto.subtle.verify("Ed25519", pk, parsed.signature, msg));

  assert.deepEqual(await verifyProvenanceSignature(pk, text, "x.sig", fp, meta), {
    ok: true,
    keyId: await keyIdOf(pk),
  });
  const changed = await verifyProvenanceSignature(pk, text, "x.sig", meta, meta);
  assert.equal(changed.ok, false);
  assert.match(changed.reason!, /does not match the GGUF's fingerprint and meta\.json/);

  const other = await generateSigningKeyPair();
  const wrongKey = await verifyProvenanceSignature(
    await importKeyPem(other.publicPem, "other.pub", "public"),
    text,
    "x.sig",
    fp,
    meta,
  );
  assert.equal(wrongKey.ok, false);
  assert.match(wrongKey.reason!, /signed with another key/);

  const garbled = await verifyProvenanceSignature(
    pk,
    text.replace("ed25519", "rsa"),
    "x.sig",
    fp,
    meta,
  );
  assert.equal(garbled.ok, false);
  assert.match(garbled.reason!, /algorithm must be "ed25519"/);
});

Deno.test("keys from openssl genpkey import, and openssl verifies our signature", {
  ignore: !(await new Deno.Command("openssl", { args: ["version"], stdout: "null", stderr: "null" })
    .output().then((o) => o.success, () => false)),
}, async () => {
  const dir = await Deno.makeTempDir();
  try {
    const run = async (args: string[]) => {
      const o = await new Deno.Command("openssl", { args, stdout: "piped", stderr: "piped" })
        .output();
      assert.ok(o.success, new TextDecoder().decode(o.stderr));
    };
    await run(["genpkey", "-algorithm", "ed25519", "-out", `${dir}/k.pem`]);
    await run(["pkey", "-in", `${dir}/k.pem`, "-pubout", "-out", `${dir}/k.pub`]);
    const sk = await loadKey(`${dir}/k.pem`, "private");
    const pk = await loadKey(`${dir}/k.pub`, "public");
    const fp = "0f".repeat(32), meta = "e1".repeat(32);
    const parsed = parseSignatureFile(await signProvenance(sk, fp, meta), "s");
    await Deno.writeFile(`${dir}/msg`, signedMessage(fp, meta));
    await Deno.writeFile(`${dir}/sig`, parsed.signature);
    await run([
      "pkeyutl",
      "-verify",
      "-pubin",
      "-inkey",
      `${dir}/k.pub`,
      "-rawin",
      "-in",
      `${dir}/msg`,
      "-sigfile",
      `${dir}/sig`,
    ]);
    assert.equal(parsed.keyId, await keyIdOf(pk));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("generateKeyFiles writes a 0600 private key and refuses to overwrite", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { keyId } = await generateKeyFiles(`${dir}/k.pem`, `${dir}/k.pem.pub`);
    const sk = await loadKey(`${dir}/k.pem`, "private");
    assert.equal(await keyIdOf(await publicKeyOf(sk)), keyId);
    assert.equal(await keyIdOf(await loadKey(`${dir}/k.pem.pub`, "public")), keyId);
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(`${dir}/k.pem`)).mode! & 0o777, 0o600);
    }
    await assert.rejects(() => generateKeyFiles(`${dir}/k.pem`, `${dir}/other.pub`), OutputError);
    await assert.rejects(() => loadKey(`${dir}/k.pem`, "public"), FormatError); // a private key is not a public one
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseSignatureFile rejects malformed files", () => {
  const good = `clean-gguf-signature-v1\nalgorithm: ed25519\nkey-id: sha256-${
    "0".repeat(64)
  }\nsignature: ${btoa("x".repeat(64))}\n`;
  assert.equal(parseSignatureFile(good, "s").signature.length, 64);
  assert.throws(() => parseSignatureFile("hello", "s"), FormatError);
  assert.throws(
    () => parseSignatureFile(good.replace(btoa("x".repeat(64)), btoa("x")), "s"),
    /64 bytes/,
  );
  assert.throws(() => parseSignatureFile(good.replace(/key-id.*\n/, ""), "s"), /key-id/);
});
