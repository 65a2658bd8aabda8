/**
 * The tests' one writer of small random BERT checkpoints in the Hugging Face folder layout
 * (config.json, model.safetensors, vocab.txt, tokenizer_config.json): the teachers of the trainer
 * tests and the model folders of the CLI tests. Written without TF.js, so no backend is needed.
 */
import * as fs from 'node:fs';
import { BERT_BASE_DEFAULTS, BertConfig } from '../../src/model/config';
import { expectedTensorShapes, saveCheckpoint } from '../../src/model/checkpoint';
import { defaultLabels } from '../../src/model/hf-config';
import { seededNormal } from '../../src/model/init';
import { NamedTensors, numel } from '../../src/model/named-tensors';
import { BERT_VOCAB } from './paths';

export interface TinyCheckpointOptions {
  /** Copied in as vocab.txt; its line count becomes vocab_size. Default: bert-base-uncased's. */
  vocabFile?: string;
  /** Default 4. */
  layers?: number;
  /** Default 32. */
  hidden?: number;
  /** Default 2. */
  heads?: number;
  /** Default 2 × hidden. */
  intermediate?: number;
  /** Default 64. */
  maxPositions?: number;
  /** Classes of the head (default 2); ignored with `regression`. */
  numLabels?: number;
  /** Class names (default LABEL_0, LABEL_1, …); length numLabels. */
  labels?: string[];
  /** A one-output regression head (problem_type "regression"). */
  regression?: boolean;
  /** Leave the classifier out (a bare encoder, as a pre-trained checkpoint). */
  withoutHead?: boolean;
  /** Weight seed (default 1). */
  seed?: number;
  /**
   * Std of the random weights (default 0.2). Larger than BERT's 0.02 so attention maps are far
   * from uniform and the internal losses have something to learn.
   */
  std?: number;
  /** Overwrite these tensors' values (e.g. with NaN) before saving. */
  poison?: (tensors: NamedTensors) => void;
}

/** Lines of a vocab.txt, as the tokenizer counts them (a final newline ends the last token). */
function vocabSize(file: string): number {
  const lines = fs.readFileSync(file, 'utf8').split(/\r\n|\r|\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.length;
}

export function tinyBertConfig(o: TinyCheckpointOptions = {}): BertConfig {
  const hidden = o.hidden ?? 32;
  const numLabels = o.regression ? 1 : (o.numLabels ?? 2);
  const labels = o.regression ? defaultLabels(1) : (o.labels ?? defaultLabels(numLabels));
  if (labels.length !== numLabels) throw new Error(`tinyBertConfig: ${labels.length} labels for ${numLabels} classes`);
  return {
    ...BERT_BASE_DEFAULTS,
    vocabSize: vocabSize(o.vocabFile ?? BERT_VOCAB),
    hiddenSize: hidden,
    numHiddenLayers: o.layers ?? 4,
    numAttentionHeads: o.heads ?? 2,
    intermediateSize: o.intermediate ?? 2 * hidden,
    maxPositionEmbeddings: o.maxPositions ?? 64,
    numLabels,
    problemType: o.regression ? 'regression' : 'single_label_classification',
    labels,
  };
}

/** Writes the checkpoint into `dir` (created or replaced) and returns its config. */
export function writeTinyCheckpoint(dir: string, o: TinyCheckpointOptions = {}): BertConfig {
  const config = tinyBertConfig(o);
  const seed = o.seed ?? 1;
  const std = o.std ?? 0.2;
  const tensors: NamedTensors = new Map();
  for (const [name, shape] of expectedTensorShapes(config, !o.withoutHead)) {
    const n = numel(shape);
    let data: Float32Array;
    if (/LayerNorm\.weight$/.test(name)) data = new Float32Array(n).fill(1);
    else if (/(bias|LayerNorm\.bias)$/.test(name)) data = new Float32Array(n);
    else data = seededNormal(n, std, seed, name);
    tensors.set(name, { shape, data });
  }
  o.poison?.(tensors);
  saveCheckpoint(dir, config, tensors, { vocabFile: o.vocabFile ?? BERT_VOCAB });
  return config;
}
