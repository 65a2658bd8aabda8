/**
 * Builds a WordPiece vocabulary from training text, for a teacher trained from scratch without a
 * vocab.txt: the special tokens, every character seen (alone and as a `##` continuation, so any
 * word can still be spelled), then the most frequent words.
 */
import { CLS_TOKEN, MASK_TOKEN, PAD_TOKEN, SEP_TOKEN, UNK_TOKEN, WordPieceTokenizer } from './tokenizer';

export function buildWordPieceVocab(
  texts: Iterable<string>,
  opts: { maxSize: number; lowercase: boolean; minCount?: number },
): string[] {
  const specials = [PAD_TOKEN, UNK_TOKEN, CLS_TOKEN, SEP_TOKEN, MASK_TOKEN];
  const basic = new WordPieceTokenizer(specials, { lowercase: opts.lowercase });
  const counts = new Map<string, number>();
  const chars = new Set<string>();
  for (const text of texts) {
    for (const word of basic.basicTokenize(text)) {
      counts.set(word, (counts.get(word) ?? 0) + 1);
      for (const ch of word) chars.add(ch);
    }
  }
  const charList = [...chars].sort();
  const vocab = [...specials, ...charList, ...charList.map((c) => `##${c}`)];
  const seen = new Set(vocab);
  const words = [...counts.entries()]
    .filter(([w, c]) => c >= (opts.minCount ?? 2) && !seen.has(w))
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  for (const [w] of words) {
    if (vocab.length >= opts.maxSize) break;
    vocab.push(w);
  }
  return vocab;
}
