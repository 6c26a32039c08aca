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
