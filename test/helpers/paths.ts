import * as path from 'node:path';

/** The repository root. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/**
 * Real GLUE data and the bert-base-uncased vocabulary live in `../shared/data` beside the
 * repository (never copied into it). DISTILLERY_SHARED_DATA overrides the location.
 */
export const SHARED_DATA = process.env.DISTILLERY_SHARED_DATA ?? path.resolve(REPO_ROOT, '..', 'shared', 'data');
export const GLUE_DIR = path.join(SHARED_DATA, 'glue');
export const BERT_VOCAB = path.join(SHARED_DATA, 'vocab', 'bert-base-uncased-vocab.txt');
