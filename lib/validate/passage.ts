/**
 * The short plain-English passage whose teacher-forced mean NLL tells a
 * working model from a broken one (gate 3). A string constant rather than a
 * data file, so that the validator also runs from a URL.
 *
 * It mixes sentences of the kinds every English model has seen (capitals,
 * calendar facts, a simple story, everyday statements): a real model scores
 * it far below log(vocab size), the NLL of a uniform guess, while a model
 * with corrupted weights scores near or above it.
 *
 * @example
 * ```ts
 * import { PROBE_PASSAGE } from "./passage.ts";
 * PROBE_PASSAGE.startsWith("The capital of France is Paris."); // true
 * ```
 * @module
 */

/** The NLL passage. */
export const PROBE_PASSAGE = [
  "The capital of France is Paris.",
  "What is the capital of Japan? The capital of Japan is Tokyo.",
  "A week has seven days.",
  "Once upon a time, there was a brave little bear named Tom.",
  "He lived in a cozy cottage near the lake.",
  "One day, Tom found a golden key by the river.",
  "The sky is blue, and birds can fly.",
].join(" ");
