/**
 * Hugging Face `config.json` ⇄ BertConfig. Parsing mirrors transformers' BertConfig/PretrainedConfig
 * defaults and label handling, but refuses anything our TF.js BERT does not implement (other
 * activations, relative position embeddings, decoders, multi-label heads) instead of silently
 * computing something different from what the checkpoint was trained with.
 */
import { BERT_BASE_DEFAULTS, BertConfig } from './config';
import { UserError } from '../util/errors';
import { MODEL_BOUNDS } from '../config/bounds';

/** Written into config.json; informational only (transformers does not check it on load). */
export const HF_TRANSFORMERS_VERSION = '4.46.3';

export type HfArchitecture = 'BertForSequenceClassification' | 'BertModel';

type Json = Record<string, unknown>;

/** `LABEL_0`, `LABEL_1`, …: the names transformers invents when a config gives none. */
export function defaultLabels(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `LABEL_${i}`);
}

export function parseHfConfig(json: unknown, file: string): BertConfig {
  const fail = (message: string, fix?: string) => new UserError(message, { where: file, fix });
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw fail('config.json must be a JSON object', 'export the model again with save_pretrained()');
  }
  const j = json as Json;
  const present = (key: string) => j[key] !== undefined && j[key] !== null;

  if (present('model_type') && j.model_type !== 'bert') {
    throw fail(
      `model_type is ${JSON.stringify(j.model_type)}; only "bert" checkpoints are supported`,
      'use a BERT checkpoint (e.g. bert-base-uncased or a BertForSequenceClassification fine-tuned from it)',
    );
  }
  const hiddenAct = present('hidden_act') ? j.hidden_act : BERT_BASE_DEFAULTS.hiddenAct;
  if (hiddenAct !== 'gelu') {
    throw fail(
      `hidden_act is ${JSON.stringify(hiddenAct)}; only "gelu" (exact, erf-based) is supported`,
      'use a checkpoint trained with hidden_act "gelu"; approximations such as "gelu_new" or other activations would silently change the model\'s outputs',
    );
  }
  if (present('position_embedding_type') && j.position_embedding_type !== 'absolute') {
    throw fail(`position_embedding_type is ${JSON.stringify(j.position_embedding_type)}; only "absolute" is supported`);
  }
  if (j.is_decoder === true || j.add_cross_attention === true) {
    throw fail('is_decoder/add_cross_attention is true; only encoder-only BERT is supported');
  }

  // Sizes are bounded too: the model is built from them, so 1e308 layers must be refused here.
  const int = (key: string, def: number, min: number, max: number): number => {
    if (!present(key)) return def;
    const v = j[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw fail(
        `${key} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`,
        'repair config.json, or export the model again with save_pretrained()',
      );
    }
    return v;
  };
  const real = (key: string, def: number, ok: (v: number) => boolean, what: string): number => {
    if (!present(key)) return def;
    const v = j[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v))
      throw fail(`${key} must be ${what}, got ${JSON.stringify(v)}`);
    return v;
  };
  const d = BERT_BASE_DEFAULTS;
  const vocabSize = int('vocab_size', d.vocabSize, 1, MODEL_BOUNDS.vocabSize);
  const hiddenSize = int('hidden_size', d.hiddenSize, 1, MODEL_BOUNDS.hiddenSize);
  const numHiddenLayers = int('num_hidden_layers', d.numHiddenLayers, 1, MODEL_BOUNDS.layers);
  const numAttentionHeads = int('num_attention_heads', d.numAttentionHeads, 1, MODEL_BOUNDS.heads);
  const intermediateSize = int('intermediate_size', d.intermediateSize, 1, MODEL_BOUNDS.intermediateSize);
  const maxPositionEmbeddings = int('max_position_embeddings', d.maxPositionEmbeddings, 1, MODEL_BOUNDS.maxPositions);
  const typeVocabSize = int('type_vocab_size', d.typeVocabSize, 1, MODEL_BOUNDS.typeVocabSize);
  // transformers allows a null pad_token_id; the embedding then has no padding row, and 0 is
  // still [PAD] in every BERT vocabulary.
  const padTokenId = int('pad_token_id', d.padTokenId, 0, MODEL_BOUNDS.vocabSize);
  if (padTokenId >= vocabSize) throw fail(`pad_token_id ${padTokenId} is not below vocab_size ${vocabSize}`);
  if (hiddenSize % numAttentionHeads !== 0) {
    throw fail(`hidden_size ${hiddenSize} is not a multiple of num_attention_heads ${numAttentionHeads}`);
  }
  const prob = (v: number) => v >= 0 && v < 1;
  const hiddenDropoutProb = real('hidden_dropout_prob', d.hiddenDropoutProb, prob, 'a number in [0, 1)');
  const attentionProbsDropoutProb = real(
    'attention_probs_dropout_prob',
    d.attentionProbsDropoutProb,
    prob,
    'a number in [0, 1)',
  );
  const layerNormEps = real('layer_norm_eps', d.layerNormEps, (v) => v > 0, 'a positive number');
  const initializerRange = real('initializer_range', d.initializerRange, (v) => v > 0, 'a positive number');

  const labels = parseLabels(j, fail);
  let problemType: BertConfig['problemType'];
  const pt = j.problem_type;
  if (pt === 'multi_label_classification') {
    throw fail(
      'problem_type "multi_label_classification" is not supported; only single-label classification and regression are',
    );
  } else if (pt === 'regression') {
    problemType = 'regression';
  } else if (pt === 'single_label_classification' || pt === undefined || pt === null) {
    // As in BertForSequenceClassification.forward: one output and no problem_type means regression.
    problemType =
      pt === undefined || pt === null ? (labels?.length === 1 ? 'regression' : 'single_label_classification') : pt;
  } else {
    throw fail(`problem_type ${JSON.stringify(pt)} is not one of "single_label_classification", "regression"`);
  }
  let finalLabels: string[];
  if (problemType === 'regression') {
    finalLabels = labels ?? defaultLabels(1);
    if (finalLabels.length !== 1) {
      throw fail(
        `problem_type is "regression" but the config has ${finalLabels.length} labels; regression needs exactly one output`,
        'set "num_labels": 1 (and a one-entry id2label) in config.json',
      );
    }
  } else {
    finalLabels = labels ?? defaultLabels(2);
    if (finalLabels.length < 2) {
      throw fail(
        'single-label classification needs at least 2 labels, the config has 1',
        'for a regression task set "problem_type": "regression"; otherwise list every class in id2label',
      );
    }
  }

  return {
    vocabSize,
    hiddenSize,
    numHiddenLayers,
    numAttentionHeads,
    intermediateSize,
    hiddenAct: 'gelu',
    hiddenDropoutProb,
    attentionProbsDropoutProb,
    maxPositionEmbeddings,
    typeVocabSize,
    layerNormEps,
    initializerRange,
    padTokenId,
    numLabels: finalLabels.length,
    problemType,
    labels: finalLabels,
  };
}

/** The class names from id2label (or label2id, or num_labels); undefined when the config names none. */
function parseLabels(j: Json, fail: (m: string, fix?: string) => UserError): string[] | undefined {
  let labels: string[] | undefined;
  const asObject = (key: string): Json => {
    const v = j[key];
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw fail(`${key} must be an object`);
    return v as Json;
  };
  const indexOf = (key: string, s: unknown, n: number): number => {
    const i = typeof s === 'number' ? s : typeof s === 'string' && /^\d+$/.test(s) ? Number(s) : NaN;
    if (!Number.isInteger(i) || i < 0 || i >= n) {
      throw fail(`${key} must map the ids 0..${n - 1}, found id ${JSON.stringify(s)}`);
    }
    return i;
  };
  const fillFrom = (key: string, pairs: Array<[unknown, unknown]>) => {
    const out = new Array<string | undefined>(pairs.length).fill(undefined);
    for (const [id, name] of pairs) {
      if (typeof name !== 'string') throw fail(`${key}: label names must be strings, got ${JSON.stringify(name)}`);
      const i = indexOf(key, id, pairs.length);
      if (out[i] !== undefined) throw fail(`${key} names id ${i} twice`);
      out[i] = name;
    }
    return out as string[];
  };
  if (j.id2label !== undefined && j.id2label !== null) {
    labels = fillFrom('id2label', Object.entries(asObject('id2label')));
  } else if (j.label2id !== undefined && j.label2id !== null) {
    labels = fillFrom(
      'label2id',
      Object.entries(asObject('label2id')).map(([name, id]) => [id, name]),
    );
  }
  if (labels !== undefined && labels.length === 0) throw fail('id2label is empty');
  if (j.num_labels !== undefined && j.num_labels !== null) {
    const n = j.num_labels;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MODEL_BOUNDS.labels) {
      throw fail(`num_labels must be an integer from 1 to ${MODEL_BOUNDS.labels}, got ${JSON.stringify(n)}`);
    }
    if (labels === undefined) labels = defaultLabels(n);
    else if (labels.length !== n) {
      throw fail(
        `num_labels is ${n} but id2label names ${labels.length} labels`,
        'make num_labels equal the number of entries in id2label, or remove it',
      );
    }
  }
  return labels;
}

/**
 * Every field transformers' BertConfig serialises (keys sorted, as `save_pretrained` writes them),
 * so that `from_pretrained` finds nothing missing or unexpected.
 */
export function toHfConfig(c: BertConfig, architecture: HfArchitecture): Record<string, unknown> {
  const id2label: Record<string, string> = {};
  const label2id: Record<string, number> = {};
  c.labels.forEach((name, i) => {
    id2label[String(i)] = name;
    label2id[name] = i;
  });
  return {
    architectures: [architecture],
    attention_probs_dropout_prob: c.attentionProbsDropoutProb,
    classifier_dropout: null,
    hidden_act: c.hiddenAct,
    hidden_dropout_prob: c.hiddenDropoutProb,
    hidden_size: c.hiddenSize,
    id2label,
    initializer_range: c.initializerRange,
    intermediate_size: c.intermediateSize,
    label2id,
    layer_norm_eps: c.layerNormEps,
    max_position_embeddings: c.maxPositionEmbeddings,
    model_type: 'bert',
    num_attention_heads: c.numAttentionHeads,
    num_hidden_layers: c.numHiddenLayers,
    pad_token_id: c.padTokenId,
    position_embedding_type: 'absolute',
    problem_type: c.problemType,
    torch_dtype: 'float32',
    transformers_version: HF_TRANSFORMERS_VERSION,
    type_vocab_size: c.typeVocabSize,
    use_cache: true,
    vocab_size: c.vocabSize,
  };
}
