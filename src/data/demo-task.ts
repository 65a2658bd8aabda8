/**
 * The demo's synthetic task, generated so the demo needs no downloads: "in 'the X chased the Y',
 * is the chaser X a predator?". Both animals occur in every sentence and each animal is as often
 * chaser as chased, so which words occur says nothing; a model has to find the subject through
 * the sentence's structure — what self-attention does, and what distilling attention maps should
 * pass on to a student.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../util/atomic-fs';
import { createRng } from './batching';

const PREDATORS = ['cat', 'dog', 'fox', 'owl', 'bear', 'wolf'];
const PREY = ['bird', 'horse', 'mouse', 'frog', 'goat', 'duck'];
const ANIMALS = [...PREDATORS, ...PREY];
const ADJECTIVES = ['red', 'small', 'old', 'quick', 'lazy', 'tiny', 'brave', 'quiet', 'happy', 'grey'];
const VERBS = ['chased', 'watched', 'followed', 'ignored', 'found', 'met', 'helped', 'heard'];
const PLACES = ['river', 'barn', 'forest', 'field', 'garden', 'hill', 'road', 'lake'];
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
  return [...DEMO_SPECIAL_TOKENS, ...FUNCTION_WORDS, ...ADJECTIVES, ...ANIMALS, ...VERBS, ...PLACES];
}

/** Writes train.tsv, dev.tsv (columns index, sentence, label) and vocab.txt. */
export function generateDemoTask(
  dir: string,
  opts: { trainSize: number; devSize: number; seed: number },
): DemoTaskFiles {
  const rng = createRng(opts.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng.next() * xs.length)];
  let maxTokens = 0;
  const makeRows = (n: number): string[] => {
    const rows = ['index\tsentence\tlabel'];
    for (let i = 0; i < n; i++) {
      const label = i % 2 === 0 ? 1 : 0;
      const chaser = pick(label === 1 ? PREDATORS : PREY);
      const chased = pick(ANIMALS.filter((x) => x !== chaser));
      // 0-2 adjectives and an optional opening word move the animals around, so the model has to
      // find the subject by structure ("X verb the Y"), not by position or by which words occur.
      const adjs = () => Array.from({ length: Math.floor(rng.next() * 3) }, () => pick(ADJECTIVES));
      const parts = [
        ...(rng.next() < 0.3 ? [pick(['later', 'then', 'so'])] : []),
        'the',
        ...adjs(),
        chaser,
        pick(VERBS),
        'the',
        ...adjs(),
        chased,
      ];
      if (rng.next() < 0.5) parts.push(pick(['near', 'by', 'at', 'in']), 'the', pick(PLACES));
      maxTokens = Math.max(maxTokens, parts.length + 2);
      rows.push(`${i}\t${parts.join(' ')}\t${label}`);
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
