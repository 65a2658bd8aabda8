/**
 * Opens a checkpoint folder for inference: backend, weights, tokenizer, model. Shared by the
 * inspect and eval verbs.
 */
import { BackendInfo, BackendRequest, initBackend, isBackendRequest } from '../model/backend';
import { BertModel } from '../model/bert';
import { LoadedCheckpoint, loadCheckpoint } from '../model/checkpoint';
import { WordPieceTokenizer } from '../data/tokenizer';
import { UserError } from '../util/errors';

export interface ModelSession {
  backend: BackendInfo;
  checkpoint: LoadedCheckpoint;
  tokenizer: WordPieceTokenizer;
  model: BertModel;
}

export function parseBackendFlag(value: string | undefined): BackendRequest {
  const v = value ?? 'auto';
  if (!isBackendRequest(v)) {
    throw new UserError(`unknown backend "${v}"`, {
      where: '--backend',
      fix: 'use one of auto, tensorflow-gpu, tensorflow, wasm, cpu',
    });
  }
  return v;
}

export async function openModel(
  dir: string,
  opts: { backend: BackendRequest; numLabels?: number; labels?: string[]; regression?: boolean },
): Promise<ModelSession> {
  const checkpoint = loadCheckpoint(dir, {
    numLabels: opts.numLabels,
    labels: opts.labels,
    regression: opts.regression,
  });
  const tokenizer = WordPieceTokenizer.fromModelDir(checkpoint.dir);
  if (tokenizer.vocabSize > checkpoint.config.vocabSize) {
    throw new UserError(
      `the vocabulary has ${tokenizer.vocabSize} tokens but config.json says vocab_size ${checkpoint.config.vocabSize}`,
      {
        where: dir,
        fix: 'use the vocab.txt the model was trained with',
      },
    );
  }
  const backend = await initBackend(opts.backend);
  const model = BertModel.fromNamedTensors(checkpoint.config, checkpoint.tensors, {
    initHeadSeed: 0,
    trainable: false,
  });
  return { backend, checkpoint, tokenizer, model };
}
