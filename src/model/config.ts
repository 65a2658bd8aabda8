/**
 * The architecture of a BERT encoder with a sequence-classification (or regression) head, in the
 * project's own camelCase. `checkpoint.ts` converts it to and from Hugging Face `config.json`.
 */
export interface BertConfig {
  vocabSize: number;
  hiddenSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  intermediateSize: number;
  /** Only exact (erf) GELU is supported, as in the original BERT. */
  hiddenAct: 'gelu';
  hiddenDropoutProb: number;
  attentionProbsDropoutProb: number;
  maxPositionEmbeddings: number;
  typeVocabSize: number;
  layerNormEps: number;
  initializerRange: number;
  padTokenId: number;
  /** Outputs of the task head: the number of classes, or 1 for regression. */
  numLabels: number;
  problemType: 'single_label_classification' | 'regression';
  /** Class names by index (`id2label` in config.json); length numLabels. */
  labels: string[];
}

/** bert-base-uncased's architecture; the defaults for anything a config leaves out. */
export const BERT_BASE_DEFAULTS: BertConfig = {
  vocabSize: 30522,
  hiddenSize: 768,
  numHiddenLayers: 12,
  numAttentionHeads: 12,
  intermediateSize: 3072,
  hiddenAct: 'gelu',
  hiddenDropoutProb: 0.1,
  attentionProbsDropoutProb: 0.1,
  maxPositionEmbeddings: 512,
  typeVocabSize: 2,
  layerNormEps: 1e-12,
  initializerRange: 0.02,
  padTokenId: 0,
  numLabels: 2,
  problemType: 'single_label_classification',
  labels: ['LABEL_0', 'LABEL_1'],
};

export function headDim(c: BertConfig): number {
  return c.hiddenSize / c.numAttentionHeads;
}
