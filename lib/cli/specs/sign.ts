/**
 * `model-sign`'s command line.
 *
 * @example
 * ```ts
 * import { SIGN_SPEC } from "./sign.ts";
 * SIGN_SPEC.options.key.writes.when; // "generate-key"
 * ```
 * @module
 */

import type { TaskSpec } from "../spec.ts";

/** model-sign. */
export const SIGN_SPEC = {
  name: "model-sign",
  script: "tasks/sign_gguf.ts",
  summary: "Write a detached Ed25519 signature over a GGUF's fingerprint and meta.json.",
  description:
    "Signs <model.gguf>'s fingerprint and meta.json with an Ed25519 private key (PKCS#8 PEM)\n" +
    "after checking the file against its fingerprint, meta.json and gguf-hash manifest (exit 19\n" +
    "if they disagree), and writes <stem>.sig. --generate-key writes a new pair instead: KEY\n" +
    "(private, mode 0600, its folder created with mode 0700) and PUB; existing files are never\n" +
    "overwritten, and a private key is not written inside a git work tree unless --force.",
  positionals: [
    { name: "model", label: "model.gguf", help: "the GGUF to sign", required: true },
  ],
  modes: [{ when: "generate-key", positionals: [] }],
  options: {
    key: {
      type: "string",
      value: "KEY",
      help: "the private key (PKCS#8 PEM); with --generate-key, where to write it",
      writes: { kind: "file", when: "generate-key" },
    },
    "generate-key": { type: "boolean", help: "write a new key pair to KEY and PUB" },
    pubkey: {
      type: "string",
      value: "PUB",
      help: "with --generate-key: where the public key goes (default KEY.pub)",
      writes: { kind: "file", when: "generate-key", besideOf: "key" },
    },
    force: {
      type: "boolean",
      help: "with --generate-key: write the private key even inside a git work tree",
    },
    sig: {
      type: "string",
      value: "FILE",
      help: "the signature file (default <stem>.sig beside the GGUF)",
      writes: { kind: "file", unless: "generate-key", besideOf: "model" },
    },
    meta: { type: "string", value: "FILE", help: "meta.json (default <stem>.meta.json)" },
  },
  examples: [
    "model-sign --generate-key --key ~/.config/clean-gguf/signing.key",
    "model-sign models/clean/clean-f16.gguf --key ~/.config/clean-gguf/signing.key",
  ],
  exitCodes: [3, 4, 8, 19],
} as const satisfies TaskSpec;
