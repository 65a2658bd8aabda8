/**
 * The demo's synthetic task, generated so the demo needs no downloads: "does the animal in the
 * second sentence also appear in the first?". Bag-of-words features cannot solve it (every
 * animal appears in both classes equally often); a model has to relate the animal in segment B
 * to the animals in segment A, which is what self-attention does and what distillation of
 * attention maps should transfer.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../util/atomic-fs';
import { createRng } from './batching';

const ANIMALS = ['cat', 'dog', 'bird', 'fox', 'horse', 'mouse', 'owl', 'frog', 'goat', 'bear', 'wolf', 'duck'];
const ADJECTIVES = ['red', 'small', 'old', 'quick', 'lazy', 'tiny', 'brave', 'quiet', 'happy', 'grey'];
const VERBS = ['chased', 'watched', 'followed', 'ignored', 'found', 'met', 'helped', 'heard'];
const PLACES = ['river', 'barn', 'forest', 'field', 'garden', 'hill', 'road', 'lake'];
const VERBS_B = ['sleeps', 'runs', 'sings', 'waits', 'hides', 'eats', 'swims', 'plays'];
const FUNCTION_WORDS = ['the', 'a', 'near', 'by', 'at', 'in', 'and', 'then', 'later', 'there', 'so'];
export const DEMO_SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];

export interface DemoTaskFiles {
  dir: string;
  train: string;
  dev: string;
  vocab: string;
  /** Longest example in word pieces, including [CLS] and [SEP]s. */
  maxTokens: number;
}

export function demoVocabulary(): string[] {
  return [...DEMO_SPECIAL_TOKENS, ...FUNCTION_WORDS, ...ADJECTIVES, ...ANIMALS, ...VERBS, ...PLACES, ...VERBS_B];
}

/** Writes train.tsv, dev.tsv (columns index, sentence1, sentence2, label) and vocab.txt. */
export function generateDemoTask(dir: string, opts: { trainSize: number; devSize: number; seed: number }): DemoTaskFiles {
  const rng = createRng(opts.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng.next() * xs.length)];
  let maxTokens = 0;
  const makeRows = (n: number): string[] => {
    const rows = ['index\tsentence1\tsentence2\tlabel'];
    for (let i = 0; i < n; i++) {
      const a1 = pick(ANIMALS);
      let a2 = pick(ANIMALS);
      while (a2 === a1) a2 = pick(ANIMALS);
      const label = i % 2 === 0 ? 1 : 0;
      let b: string;
      if (label === 1) b = rng.next() < 0.5 ? a1 : a2;
      else do { b = pick(ANIMALS); } while (b === a1 || b === a2);
      const s1Parts = ['the', pick(ADJECTIVES), a1, pick(VERBS), 'the', pick(ADJECTIVES), a2];
      if (rng.next() < 0.5) s1Parts.push(pick(['near', 'by', 'at', 'in']), 'the', pick(PLACES));
      const s2Parts = rng.next() < 0.5 ? ['a', pick(ADJECTIVES), b, pick(VERBS_B)] : ['later', 'the', b, pick(VERBS_B), 'there'];
      maxTokens = Math.max(maxTokens, s1Parts.length + s2Parts.length + 3);
      rows.push(`${i}\t${s1Parts.join(' ')}\t${s2Parts.join(' ')}\t${label}`);
    }
    // Shuffle data rows so labels do not alternate in file order.
    const body = rows.slice(1);
    for (let i = body.length - 1; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1));
      [body[i], body[j]] = [body[j], body[i]];
    }
    return [rows[0], ...body];
  };
  fs.mkdirSync(dir, { recursive: true });
  const files: DemoTaskFiles = {
    dir,
    train: path.join(dir, 'train.tsv'),
    dev: path.join(dir, 'dev.tsv'),
    vocab: path.join(dir, 'vocab.txt'),
    maxTokens: 0,
  };
  writeFileAtomic(files.train, makeRows(opts.trainSize).join('\n') + '\n');
  writeFileAtomic(files.dev, makeRows(opts.devSize).join('\n') + '\n');
  writeFileAtomic(files.vocab, demoVocabulary().join('\n') + '\n');
  files.maxTokens = maxTokens;
  return files;
}
