/**
 * Test helper: an independent re-statement of llama.cpp's SentencePiece
 * tokenizer (llama-vocab.cpp `llm_tokenizer_spm_session::tokenize`), used to
 * check that the scores we write make llama.cpp tokenize as llama.cpp's own
 * vectors say. Written from the algorithm, not from our library:
 *
 * 1. prepend a space (add_space_prefix), replace every " " with "▁";
 * 2. one symbol per code point; every adjacent pair whose concatenation is a
 *    token is a candidate, scored with that token's score;
 * 3. repeatedly merge the best candidate (highest score, then leftmost), skipping
 *    stale ones, and add the new pairs with the neighbours;
 * 4. each final symbol is its token, or its UTF-8 bytes as `<0xXX>` tokens.
 *
 * @module
 */

interface Candidate {
  left: number;
  right: number;
  score: number;
  size: number;
}

/** Token ids of `text` (no BOS) for a vocabulary of token strings and scores. */
export function llamaCppSpmEncode(
  text: string,
  tokens: readonly string[],
  scores: readonly number[],
  addSpacePrefix = true,
): number[] {
  if (text.length === 0) return [];
  const ids = new Map<string, number>();
  tokens.forEach((t, i) => ids.has(t) || ids.set(t, i));
  const escaped = (addSpacePrefix ? " " + text : text).replaceAll(" ", "\u2581");
  const sym = Array.from(escaped).map((ch, i, all) => ({
    text: ch,
    prev: i - 1,
    next: i + 1 < all.length ? i + 1 : -1,
  }));
  const queue: Candidate[] = [];
  const tryAdd = (left: number, right: number) => {
    if (left < 0 || right < 0) return;
    const joined = sym[left]!.text + sym[right]!.text;
    const id = ids.get(joined);
    if (id !== undefined) queue.push({ left, right, score: scores[id]!, size: joined.length });
  };
  for (let i = 1; i < sym.length; i++) tryAdd(i - 1, i);
  while (queue.length > 0) {
    let best = 0;
    for (let i = 1; i < queue.length; i++) {
      const a = queue[i]!, b = queue[best]!;
      if (a.score > b.score || (a.score === b.score && a.left < b.left)) best = i;
    }
    const c = queue.splice(best, 1)[0]!;
    const l = sym[c.left]!, r = sym[c.right]!;
    if (l.text.length === 0 || r.text.length === 0 || l.text.length + r.text.length !== c.size) {
      continue;
    }
    l.text += r.text;
    r.text = "";
    l.next = r.next;
    if (r.next >= 0) sym[r.next]!.prev = c.left;
    tryAdd(l.prev, c.left);
    tryAdd(c.left, l.next);
  }
  const out: number[] = [];
  for (let i = 0; i !== -1; i = sym[i]!.next) {
    const id = ids.get(sym[i]!.text);
    if (id !== undefined) {
      out.push(id);
      continue;
    }
    for (const byte of new TextEncoder().encode(sym[i]!.text)) {
      const hex = byte.toString(16).toUpperCase().padStart(2, "0");
      out.push(ids.get(`<0x${hex}>`)!);
    }
  }
  return out;
}
