/**
 * Writes a small, randomly initialised BERT checkpoint in the Hugging Face folder layout
 * (config.json, model.safetensors, vocab.txt, tokenizer_config.json), for tests that need a model
 * folder the CLI or the engine can open without any download.
 */
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
// Registers the pure-JS backend, so the helper also works in a process that set none.
import '@tensorflow/tfjs-backend-cpu';
import { BertModel } from '../../src/model/bert';
import { BERT_BASE_DEFAULTS, BertConfig } from '../../src/model/config';
import { defaultLabels } from '../../src/model/hf-config';
import { saveCheckpoint } from '../../src/model/checkpoint';
import { NamedTensors } from '../../src/model/named-tensors';

export interface TinyCheckpointOptions {
  /** Copied in as vocab.txt; its line count becomes vocab_size. */
  vocabFile: string;
  /** Default 2. */
  layers?: number;
  /** Default 32. */
  hidden?: number;
  /** Default 4. */
  heads?: number;
  /** Default 2 × hidden. */
  intermediate?: number;
  /** Classes of the head (default 2); ignored with `regression`. */
  numLabels?: number;
  /** Class names (default LABEL_0, LABEL_1, …); length numLabels. */
  labels?: string[];
  /** A one-output regression head (problem_type "regression"). */
  regression?: boolean;
  /** false: an encoder without classifier.* tensors, written as a bare BertModel. Default true. */
  withHead?: boolean;
  /** Default 128 (the CLI's default maximum sequence length). */
  maxPositions?: number;
  /** Weight seed (default 1). */
  seed?: number;
}

/** Lines of a vocab.txt, as the tokenizer counts them (a final newline ends the last token). */
function vocabSize(file: string): number {
  const lines = fs.readFileSync(file, 'utf8').split(/\r\n|\r|\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.length;
}

/**
 * Random weights under Hugging Face names, computed on the backend the caller set or, in a process
 * that set none, the synchronous cpu backend (whose tfjs-node advert, printed on its first tensor,
 * is kept off the test output).
 */
function randomTensors(config: BertConfig, seed: number): NamedTensors {
  const warn = console.warn;
  console.warn = () => undefined;
  try {
    void tf.engine().backend;
    const model = BertModel.randomInit(config, seed);
    try {
      return model.toNamedTensors();
    } finally {
      model.dispose();
    }
  } finally {
    console.warn = warn;
  }
}

/** Writes the checkpoint into `dir` (created or replaced) and returns its config. */
export function writeTinyCheckpoint(dir: string, opts: TinyCheckpointOptions): BertConfig {
  const hidden = opts.hidden ?? 32;
  const numLabels = opts.regression ? 1 : opts.numLabels ?? 2;
  const labels = opts.regression ? defaultLabels(1) : opts.labels ?? defaultLabels(numLabels);
  if (labels.length !== numLabels) throw new Error(`writeTinyCheckpoint: ${labels.length} labels for ${numLabels} classes`);
  const config: BertConfig = {
    ...BERT_BASE_DEFAULTS,
    vocabSize: vocabSize(opts.vocabFile),
    hiddenSize: hidden,
    numHiddenLayers: opts.layers ?? 2,
    numAttentionHeads: opts.heads ?? 4,
    intermediateSize: opts.intermediate ?? 2 * hidden,
    maxPositionEmbeddings: opts.maxPositions ?? 128,
    numLabels,
    problemType: opts.regression ? 'regression' : 'single_label_classification',
    labels,
  };
  const tensors = randomTensors(config, opts.seed ?? 1);
  if (opts.withHead === false) {
    tensors.delete('classifier.weight');
    tensors.delete('classifier.bias');
  }
  saveCheckpoint(dir, config, tensors, { vocabFile: opts.vocabFile });
  return config;
}
