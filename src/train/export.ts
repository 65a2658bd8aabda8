/**
 * `distillery export`: writes a run's best student in the Hugging Face layout and proves the
 * export by reading it back and comparing logits with the model it came from.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { BertModel } from '../model/bert';
import { loadCheckpoint, saveCheckpoint } from '../model/checkpoint';
import { toBertInputs, disposeInputs } from '../model/inputs';
import { createRng } from '../data/batching';
import { UserError } from '../util/errors';
import { RunFolder } from './run-folder';
import { ResolvedConfig } from '../config/types';
import { BertConfig } from '../model/config';
import { studentConfig } from '../distill/student-init';
import { DISTILL_ONLY_TENSORS, listCheckpoints, loadTrainingCheckpoint } from './checkpoint-store';

export interface ExportResult {
  dir: string;
  source: string;
  /** Largest |logit difference| between the model before export and the exported one. */
  maxLogitDiff: number;
  parameters: number;
}

/** A fixed probe batch: random token ids with some padding, deterministic. */
function probeBatch(vocabSize: number, maxPositions: number) {
  const size = 4;
  const seqLen = Math.min(16, maxPositions);
  const rng = createRng(1234);
  const inputIds = new Int32Array(size * seqLen);
  const tokenTypeIds = new Int32Array(size * seqLen);
  const attentionMask = new Int32Array(size * seqLen);
  for (let b = 0; b < size; b++) {
    const len = seqLen - b * 2;
    for (let i = 0; i < seqLen; i++) {
      const k = b * seqLen + i;
      if (i < len) {
        inputIds[k] = 1 + Math.floor(rng.next() * (vocabSize - 1));
        tokenTypeIds[k] = i >= len / 2 ? 1 : 0;
        attentionMask[k] = 1;
      }
    }
  }
  return { size, seqLen, inputIds, tokenTypeIds, attentionMask };
}

function logitsOf(model: BertModel, batch: ReturnType<typeof probeBatch>): Float32Array {
  const inputs = toBertInputs(batch);
  const logits = tf.tidy(() => model.forward(inputs, { training: false, keep: { hiddenStates: [], attentions: [] } }).logits);
  const data = logits.dataSync() as Float32Array;
  logits.dispose();
  disposeInputs(inputs);
  return data;
}

export async function exportStudent(runDir: string, opts: { out?: string } = {}): Promise<ExportResult> {
  const folder = RunFolder.open(runDir);
  const out = path.resolve(opts.out ?? folder.studentDir);
  let source: string;
  let model: BertModel;
  let vocabFile: string | undefined;
  let doLowerCase = true;
  if (fs.existsSync(path.join(folder.bestDir, 'model.safetensors'))) {
    const ck = loadCheckpoint(folder.bestDir);
    source = folder.bestDir;
    model = BertModel.fromNamedTensors(ck.config, ck.tensors, { trainable: false, source });
    vocabFile = ck.vocabFile;
    doLowerCase = ck.doLowerCase ?? true;
  } else {
    const latest = listCheckpoints(folder.checkpointsDir).pop();
    if (!latest) {
      throw new UserError('the run has no student weights yet (no best/ model and no checkpoint)', { where: runDir, fix: 'train longer: a checkpoint is written at each stage end, or set checkpoint.everySteps' });
    }
    const ck = loadTrainingCheckpoint(latest);
    if (ck.state.phase !== 'student') throw new UserError('the run has only teacher checkpoints so far', { where: runDir, fix: 'resume the run until the student stages have started' });
    // No best/ yet: the student's config is the teacher's with the run's student shape (as the
    // run built it), and its vocabulary size from the weights.
    const config = JSON.parse(fs.readFileSync(folder.configFile, 'utf8')) as ResolvedConfig;
    const teacherDir = 'checkpoint' in config.teacher ? config.teacher.checkpoint : config.teacher.output ?? folder.teacherDir;
    if (!fs.existsSync(path.join(teacherDir, 'config.json'))) {
      throw new UserError('cannot find the teacher to derive the student config from', { where: teacherDir, fix: 'restore the teacher folder the run used' });
    }
    const teacher = loadCheckpoint(teacherDir);
    for (const name of DISTILL_ONLY_TENSORS) ck.weights.delete(name);
    const shaped = studentConfig(teacher.config, config.student);
    const dropout = config.optim.dropout;
    const cfg: BertConfig = {
      ...shaped,
      vocabSize: ck.weights.get('bert.embeddings.word_embeddings.weight')?.shape[0] ?? shaped.vocabSize,
      ...(dropout === undefined ? {} : { hiddenDropoutProb: dropout, attentionProbsDropoutProb: dropout }),
    };
    model = BertModel.fromNamedTensors(cfg, ck.weights, { trainable: false, source: latest });
    source = latest;
    vocabFile = teacher.vocabFile ?? (fs.existsSync(folder.vocabFile) ? folder.vocabFile : undefined);
    doLowerCase = teacher.doLowerCase ?? true;
  }
  try {
    const probe = probeBatch(model.config.vocabSize, model.config.maxPositionEmbeddings);
    const before = logitsOf(model, probe);
    if (path.resolve(source) !== out) {
      saveCheckpoint(out, model.config, model.toNamedTensors(), { vocabFile, tokenizerConfig: { doLowerCase } });
    }
    const back = loadCheckpoint(out);
    const reread = BertModel.fromNamedTensors(back.config, back.tensors, { trainable: false, source: out });
    let maxLogitDiff = 0;
    try {
      const after = logitsOf(reread, probe);
      for (let i = 0; i < before.length; i++) maxLogitDiff = Math.max(maxLogitDiff, Math.abs(before[i] - after[i]));
    } finally {
      reread.dispose();
    }
    if (!(maxLogitDiff <= 1e-6)) {
      throw new Error(`export check failed: logits of ${out} differ from the trained model by ${maxLogitDiff}`);
    }
    return { dir: out, source, maxLogitDiff, parameters: model.parameterCounts().total };
  } finally {
    model.dispose();
  }
}
