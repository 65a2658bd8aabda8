// The real pre-trained checkpoints the pre-trained-teacher tests use, fetched into the ignored
// models/ folder by scripts/fetch-pretrained.sh; tests skip with this reason when one is absent.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from './paths';

export const PRETRAINED_NAME = 'all-minilm-l6-v2';
/** DISTILLERY_PRETRAINED_DIR overrides (a folder fetched elsewhere). */
export const PRETRAINED_DIR = process.env.DISTILLERY_PRETRAINED_DIR ?? path.join(REPO_ROOT, 'models', PRETRAINED_NAME);

/** The folder `fetch-pretrained.sh NAME` fills (the default model honours DISTILLERY_PRETRAINED_DIR). */
export function pretrainedDir(name: string): string {
  return name === PRETRAINED_NAME ? PRETRAINED_DIR : path.join(REPO_ROOT, 'models', name);
}

export function pretrainedMissing(name = PRETRAINED_NAME, needs: string[] = []): string | false {
  const dir = pretrainedDir(name);
  const ok = ['config.json', 'model.safetensors', 'vocab.txt', ...needs].every((f) => fs.existsSync(path.join(dir, f)));
  return ok
    ? false
    : `${dir} has not been fetched (the package could not be downloaded?): run \`bash scripts/fetch-pretrained.sh ${name}\``;
}
