// The real pre-trained checkpoint the pre-trained-teacher tests use, fetched into the ignored
// models/ folder by scripts/fetch-pretrained.sh; tests skip with this reason when it is absent.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from './paths';

export const PRETRAINED_NAME = 'all-minilm-l6-v2';
/** DISTILLERY_PRETRAINED_DIR overrides (a folder fetched elsewhere). */
export const PRETRAINED_DIR = process.env.DISTILLERY_PRETRAINED_DIR ?? path.join(REPO_ROOT, 'models', PRETRAINED_NAME);

export function pretrainedMissing(): string | false {
  const ok = ['config.json', 'model.safetensors', 'vocab.txt'].every((f) =>
    fs.existsSync(path.join(PRETRAINED_DIR, f)),
  );
  return ok
    ? false
    : `${PRETRAINED_DIR} has not been fetched (the package could not be downloaded?): run \`bash scripts/fetch-pretrained.sh ${PRETRAINED_NAME}\``;
}
