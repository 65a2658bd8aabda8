/**
 * `distillery export`: writes a run's best student in the Hugging Face layout and/or as ONNX, and
 * proves each export by reading it back (the HF folder with TF.js, model.onnx with ONNX Runtime)
 * and comparing logits with the model it came from.
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
import { NamedTensors } from '../model/named-tensors';
import { writeDirAtomic, writeFileAtomic } from '../util/atomic-fs';
import { buildBertOnnx, ONNX_OPSET } from '../export/onnx-graph';
import { encodeModel } from '../export/onnx-proto';
import { compareLogits, loadOnnxRuntime, onnxLogits, ORT_PACKAGE } from '../export/onnx-verify';

export type ExportFormat = 'hf' | 'onnx' | 'both';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['hf', 'onnx', 'both'];

export interface OnnxExportResult {
  file: string;
  bytes: number;
  opset: number;
  /** false when onnxruntime-node is not installed: the file was written unchecked. */
  verified: boolean;
  /** Largest |logit difference| between ONNX Runtime and TF.js on the probe batch (when verified). */
  maxLogitDiff?: number;
  tolerance?: number;
  onnxRuntime?: string;
  /** Why it was not verified. */
  note?: string;
}

export interface ExportResult {
  dir: string;
  source: string;
  format: ExportFormat;
  /** Largest |logit difference| between the model before export and the re-read HF folder (0 for format onnx, which writes no HF weights; see onnx.maxLogitDiff). */
  maxLogitDiff: number;
  parameters: number;
  onnx?: OnnxExportResult;
}

export interface ExportOptions {
  out?: string;
  format?: ExportFormat;
  /** Test hook: changes the weights that go into model.onnx (to prove a bad export is caught). */
  tamperOnnxWeights?: (tensors: NamedTensors) => void;
  /** Test hook: the package to load ONNX Runtime from (default onnxruntime-node). */
  onnxRuntimePackage?: string;
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
  const logits = tf.tidy(
    () => model.forward(inputs, { training: false, keep: { hiddenStates: [], attentions: [] } }).logits,
  );
  const data = logits.dataSync() as Float32Array;
  logits.dispose();
  disposeInputs(inputs);
  return data;
}

export async function exportStudent(runDir: string, opts: ExportOptions = {}): Promise<ExportResult> {
  const format = opts.format ?? 'hf';
  if (!EXPORT_FORMATS.includes(format)) {
    throw new UserError(`unknown export format ${JSON.stringify(format)}`, {
      where: '--format',
      fix: `use one of ${EXPORT_FORMATS.join(', ')}`,
    });
  }
  const folder = RunFolder.open(runDir);
  // An ONNX-only export gets its own folder, so that it never replaces an HF export in student/.
  const out = path.resolve(opts.out ?? (format === 'onnx' ? `${folder.studentDir}-onnx` : folder.studentDir));
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
      throw new UserError('the run has no student weights yet (no best/ model and no checkpoint)', {
        where: runDir,
        fix: 'train longer: a checkpoint is written at each stage end, or set checkpoint.everySteps',
      });
    }
    const ck = loadTrainingCheckpoint(latest);
    if (ck.state.phase !== 'student')
      throw new UserError('the run has only teacher checkpoints so far', {
        where: runDir,
        fix: 'resume the run until the student stages have started',
      });
    // No best/ yet: the student's config is the teacher's with the run's student shape (as the
    // run built it), and its vocabulary size from the weights.
    const config = JSON.parse(fs.readFileSync(folder.configFile, 'utf8')) as ResolvedConfig;
    const teacherDir =
      'checkpoint' in config.teacher ? config.teacher.checkpoint : (config.teacher.output ?? folder.teacherDir);
    if (!fs.existsSync(path.join(teacherDir, 'config.json'))) {
      throw new UserError('cannot find the teacher to derive the student config from', {
        where: teacherDir,
        fix: 'restore the teacher folder the run used',
      });
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
    // The ONNX model is built and checked before anything is written, so a bad one never lands.
    let onnx: { bytes: Uint8Array; result: Omit<OnnxExportResult, 'file'> } | undefined;
    if (format !== 'hf') onnx = await buildAndVerifyOnnx(model, probe, before, source, opts);
    const writeHf = format !== 'onnx';
    let maxLogitDiff = 0;
    if (writeHf) {
      if (path.resolve(source) !== out) {
        saveCheckpoint(out, model.config, model.toNamedTensors(), { vocabFile, tokenizerConfig: { doLowerCase } });
      }
      maxLogitDiff = rereadDiff(out, probe, before);
      if (!(maxLogitDiff <= 1e-6)) {
        throw new Error(`export check failed: logits of ${out} differ from the trained model by ${maxLogitDiff}`);
      }
    }
    let onnxResult: OnnxExportResult | undefined;
    if (onnx) {
      const file = path.join(out, ONNX_FILE);
      if (writeHf) writeFileAtomic(file, onnx.bytes);
      else writeOnnxFolder(out, model, onnx.bytes, { vocabFile, doLowerCase });
      onnxResult = { file, ...onnx.result };
    }
    return {
      dir: out,
      source,
      format,
      maxLogitDiff,
      parameters: model.parameterCounts().total,
      ...(onnxResult ? { onnx: onnxResult } : {}),
    };
  } finally {
    model.dispose();
  }
}

export const ONNX_FILE = 'model.onnx';

/** Re-reads the written HF folder and returns its largest |logit difference| from `before`. */
function rereadDiff(out: string, probe: ReturnType<typeof probeBatch>, before: Float32Array): number {
  const back = loadCheckpoint(out);
  const reread = BertModel.fromNamedTensors(back.config, back.tensors, { trainable: false, source: out });
  try {
    const after = logitsOf(reread, probe);
    let diff = 0;
    for (let i = 0; i < before.length; i++) diff = Math.max(diff, Math.abs(before[i] - after[i]));
    return diff;
  } finally {
    reread.dispose();
  }
}

async function buildAndVerifyOnnx(
  model: BertModel,
  probe: ReturnType<typeof probeBatch>,
  before: Float32Array,
  source: string,
  opts: ExportOptions,
): Promise<{ bytes: Uint8Array; result: Omit<OnnxExportResult, 'file'> }> {
  const tensors = model.toNamedTensors();
  opts.tamperOnnxWeights?.(tensors);
  const bytes = encodeModel(
    buildBertOnnx(model.config, tensors, { docString: `Distillery student exported from ${source}` }),
  );
  const base = { bytes: bytes.length, opset: ONNX_OPSET };
  const loaded = await loadOnnxRuntime(opts.onnxRuntimePackage);
  if (!loaded.ok) {
    return {
      bytes,
      result: {
        ...base,
        verified: false,
        note: `${loaded.reason}: model.onnx was written but not run; install it (npm install ${ORT_PACKAGE}) to have the export check it`,
      },
    };
  }
  const cmp = compareLogits(before, await onnxLogits(loaded.ort, bytes, probe));
  if (!cmp.ok) {
    throw new Error(
      `ONNX export check failed: ONNX Runtime's logits differ from the trained model's by up to ${cmp.maxAbsDiff} ` +
        `(tolerance ${cmp.tolerance.toExponential(1)}); model.onnx was not written`,
    );
  }
  return {
    bytes,
    result: {
      ...base,
      verified: true,
      maxLogitDiff: cmp.maxAbsDiff,
      tolerance: cmp.tolerance,
      onnxRuntime: `${ORT_PACKAGE} ${loaded.version}`,
    },
  };
}

/**
 * `--format onnx`: a folder in the layout Optimum's ONNX exports use — model.onnx with config.json
 * (labels) and the tokenizer files, without model.safetensors. The HF files are written by
 * saveCheckpoint into a scratch folder and copied from there, so they match the HF export's.
 */
function writeOnnxFolder(
  out: string,
  model: BertModel,
  bytes: Uint8Array,
  tok: { vocabFile?: string; doLowerCase: boolean },
): void {
  const scratch = fs.mkdtempSync(path.join(path.dirname(out), `.${path.basename(out)}.hf-`));
  try {
    saveCheckpoint(path.join(scratch, 'hf'), model.config, model.toNamedTensors(), {
      vocabFile: tok.vocabFile,
      tokenizerConfig: { doLowerCase: tok.doLowerCase },
    });
    writeDirAtomic(out, (tmp) => {
      for (const name of fs.readdirSync(path.join(scratch, 'hf'))) {
        if (name !== 'model.safetensors') fs.copyFileSync(path.join(scratch, 'hf', name), path.join(tmp, name));
      }
      writeFileAtomic(path.join(tmp, ONNX_FILE), bytes);
    });
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
