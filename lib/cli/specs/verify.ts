/**
 * `model-verify`'s command line.
 *
 * @example
 * ```ts
 * import { VERIFY_SPEC } from "./verify.ts";
 * VERIFY_SPEC.name; // "model-verify"
 * ```
 * @module
 */

import type { TaskSpec } from "../spec.ts";

/** model-verify. */
export const VERIFY_SPEC = {
  name: "model-verify",
  script: "tasks/verify_gguf.ts",
  summary: "Verify a GGUF against its fingerprint, meta.json, hash manifest and signature.",
  description:
    "Checks <model.gguf> against the files beside it (found by stem: x.gguf → x.fingerprint,\n" +
    "x.meta.json, x.gguf-hash, x.sig) and names every mismatch: exit 19 on any, or when there is\n" +
    "nothing to verify against. --gguf-hash instead prints the llama.cpp gguf-hash manifest.",
  positionals: [
    { name: "model", label: "model.gguf", help: "the GGUF to verify", required: true },
  ],
  options: {
    fingerprint: {
      type: "string",
      value: "FILE",
      help: "fingerprint file (default <stem>.fingerprint)",
    },
    meta: { type: "string", value: "FILE", help: "meta.json (default <stem>.meta.json)" },
    manifest: {
      type: "string",
      value: "FILE",
      help: "gguf-hash manifest (default <stem>.gguf-hash)",
    },
    sig: { type: "string", value: "FILE", help: "signature (default <stem>.sig)" },
    pubkey: {
      type: "string",
      value: "PUB",
      help: "Ed25519 public key (SPKI PEM); the signature must then verify",
    },
    "require-signature": {
      type: "boolean",
      help: "a missing signature, or one not checked (no --pubkey), is exit 19",
    },
    "gguf-hash": {
      type: "boolean",
      help: "print the llama.cpp gguf-hash manifest of <model.gguf> instead",
    },
    algos: {
      type: "string",
      value: "LIST",
      help: "with --gguf-hash: xxh64,sha1,sha256,uuid (default xxh64,sha256)",
    },
  },
  examples: [
    "model-verify models/clean/clean-f16.gguf --pubkey ~/.config/clean-gguf/signing.key.pub",
    "model-verify some.gguf --gguf-hash --algos xxh64,sha256",
  ],
  exitCodes: [3, 4, 19],
} as const satisfies TaskSpec;
