/**
 * Upper bounds on the sizes a model may have, shared by the config validator (a teacher's or an
 * init checkpoint's config.json) and the checkpoint reader (src/model/hf-config.ts). The config's
 * own fields are bounded by `maximum` keywords in schema/distill.schema.json; a test keeps those
 * equal to these. The bounds are far above any BERT this trainer can run, and low enough that
 * arithmetic on them (layer lists, step counts, memory estimates) stays finite and exact.
 */

export const MODEL_BOUNDS = {
  /** num_hidden_layers; BERT-large has 24. */
  layers: 48,
  /** hidden_size; BERT-large has 1024. */
  hiddenSize: 4096,
  /** num_attention_heads. */
  heads: 64,
  /** intermediate_size; BERT-large has 4096. */
  intermediateSize: 16384,
  /** max_position_embeddings; BERT has 512. */
  maxPositions: 8192,
  /** vocab_size; multilingual vocabularies reach 250k. */
  vocabSize: 1_000_000,
  /** type_vocab_size; BERT has 2. */
  typeVocabSize: 1024,
  /** num_labels / id2label entries of a classification head. */
  labels: 100_000,
} as const;

/** Sequence length: BERT's position embeddings stop at 512 (and a run also at the teacher's). */
export const MAX_SEQ_LEN = 512;

/**
 * The most epochs a whole stage plan may run (the teacher's and every stage's, summed): each field
 * is bounded by the schema, but a 48-stage sid plan at 1000 epochs per layer would still run for
 * years, and step counts derived from it would lose exactness.
 */
export const MAX_TOTAL_EPOCHS = 10_000;
