/**
 * BERT with a sequence-classification head in TF.js, computing what Hugging Face's
 * `BertForSequenceClassification` computes, and returning every layer's hidden states and
 * attention probabilities for the internal distillation losses.
 *
 * Weights are TF.js variables named by Hugging Face parameter names. Linear weights are stored
 * [in, out] (PyTorch keeps [out, in]) so the forward pass multiplies without transposed operands,
 * which the wasm backend runs 10-40× slower; they are transposed when loaded and saved.
 */
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../util/errors';
import { BertConfig, headDim } from './config';
import { gelu } from './gelu';
import { softmax } from './softmax';
import { seededNormal } from './init';
import { registerMissingKernels } from './kernels';
import { assertForwardFitsWasmHeap } from './fast-kernels/heap-budget';
import { attentionScores, dropout, layerNorm, linear, splitHeads } from './ops';
import { NamedTensors, NamedTensor, numel } from './named-tensors';

export interface BertInputs {
  /** int32 [batch, seq] */
  inputIds: tf.Tensor2D;
  /** int32 [batch, seq] */
  tokenTypeIds: tf.Tensor2D;
  /** int32 [batch, seq]: 1 = token, 0 = padding */
  attentionMask: tf.Tensor2D;
}

export interface BertOutputs {
  /** [batch, numLabels] */
  logits: tf.Tensor2D;
  /** tanh(dense([CLS])) [batch, hidden], before the classifier's dropout */
  pooled: tf.Tensor2D;
  /**
   * numHiddenLayers + 1 entries of [batch, seq, hidden]: index 0 after the embeddings, index k
   * after layer k. Entries not asked for in `ForwardOptions.keep` are empty slots (undefined).
   */
  hiddenStates: tf.Tensor3D[];
  /**
   * numHiddenLayers entries of softmax probabilities [batch, heads, query, key], before dropout:
   * index k - 1 holds layer k. Entries not asked for in `ForwardOptions.keep` are empty slots.
   */
  attentions: tf.Tensor4D[];
  /**
   * The self-attention value vectors V [batch, heads, seq, headDim] per layer (index k - 1 holds
   * layer k), for MiniLM's value-relation loss; only the entries asked for in `keep.values`.
   */
  values?: tf.Tensor4D[];
  /**
   * The [CLS] rows (position 0) [batch, hidden] of the hidden states asked for in `keep.cls`,
   * indexed as `hiddenStates` (what cls-cosine reads). With `topRows: 'cls'` this is the only
   * output of the top layer.
   */
  cls: tf.Tensor2D[];
}

export interface ForwardKeep {
  hiddenStates?: readonly number[];
  attentions?: readonly number[];
  /** Value vectors to return (layer k at k - 1); default none, even when `keep` is omitted. */
  values?: readonly number[];
  /** [CLS] rows of hidden states to return (indices as hiddenStates); default none. */
  cls?: readonly number[];
}

interface ForwardOptionsBase {
  /** Dropout is applied only when true. */
  training: boolean;
  /**
   * Makes the dropout masks reproducible; each dropout site derives its own seed from it. A
   * training loop should pass a different seed each step (e.g. runSeed · 1e6 + step), or none.
   */
  seed?: number;
}

/**
 * Which rows the top layer (layer L) computes past its attention probabilities.
 *   all: every row (what Hugging Face computes).
 *   cls: only each sequence's [CLS] row (position 0): the pooler, the logits and cls-cosine read
 *        nothing else of it. Its keys and values are still computed for every row (the [CLS] query
 *        attends to all keys), and its queries and probabilities too when `keep.attentions` asks
 *        for them (attention-kl reads every row); the context, attention output and feed-forward
 *        run on `batch` rows instead of `batch·seq`. Its full hidden state does not exist then:
 *        `keep.hiddenStates` must be given and must not hold L (an Error names it); its [CLS] row
 *        comes in `cls[L]`. Only the top layer can be cut: every lower layer's rows are the next
 *        layer's keys and values.
 */
export type TopRows = 'all' | 'cls';

export type ForwardOptions = ForwardOptionsBase &
  (
    | {
        topRows?: 'all';
        /**
         * Which hidden states (indices 0..L, 0 = embeddings) and attentions (indices 0..L-1, layer k
         * at k - 1) to return; the others are disposed inside the forward pass to save memory.
         * Omitted: all of them.
         */
        keep?: ForwardKeep;
      }
    | { topRows: TopRows; keep: ForwardKeep & { hiddenStates: readonly number[] } }
  );

export type ParamGroup = 'embeddings' | 'encoder' | 'pooler' | 'head';
/** linear: a Linear weight ([out, in] in PyTorch, stored [in, out] here). */
export type ParamKind = 'embedding' | 'linear' | 'bias' | 'norm-weight' | 'norm-bias';

export interface ParamSpec {
  /** Hugging Face name, e.g. `bert.encoder.layer.0.attention.self.query.weight`. */
  name: string;
  /** Shape in PyTorch orientation. */
  shape: number[];
  kind: ParamKind;
  group: ParamGroup;
}

export interface ParameterCounts {
  embeddings: number;
  encoder: number;
  pooler: number;
  head: number;
  total: number;
}

export interface FromNamedTensorsOptions {
  /** Seed for the pooler/classifier weights when the tensors lack them (a new task head). */
  initHeadSeed?: number;
  /** false: the variables are created non-trainable (a frozen teacher). Default true. */
  trainable?: boolean;
  /** The file the tensors came from, for error messages. */
  source?: string;
}

/** torch.finfo(torch.float32).min: Hugging Face's additive mask value for padded keys. */
const MASK_VALUE = -3.4028234663852886e38;

/** Every parameter of the model in Hugging Face order, with its PyTorch shape. */
export function bertParameterSpecs(c: BertConfig): ParamSpec[] {
  const h = c.hiddenSize;
  const specs: ParamSpec[] = [];
  const add = (name: string, shape: number[], kind: ParamKind, group: ParamGroup) =>
    specs.push({ name, shape, kind, group });
  const norm = (prefix: string, group: ParamGroup) => {
    add(`${prefix}.weight`, [h], 'norm-weight', group);
    add(`${prefix}.bias`, [h], 'norm-bias', group);
  };
  const linear = (prefix: string, inDim: number, outDim: number, group: ParamGroup) => {
    add(`${prefix}.weight`, [outDim, inDim], 'linear', group);
    add(`${prefix}.bias`, [outDim], 'bias', group);
  };
  add('bert.embeddings.word_embeddings.weight', [c.vocabSize, h], 'embedding', 'embeddings');
  add('bert.embeddings.position_embeddings.weight', [c.maxPositionEmbeddings, h], 'embedding', 'embeddings');
  add('bert.embeddings.token_type_embeddings.weight', [c.typeVocabSize, h], 'embedding', 'embeddings');
  norm('bert.embeddings.LayerNorm', 'embeddings');
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const p = `bert.encoder.layer.${i}`;
    linear(`${p}.attention.self.query`, h, h, 'encoder');
    linear(`${p}.attention.self.key`, h, h, 'encoder');
    linear(`${p}.attention.self.value`, h, h, 'encoder');
    linear(`${p}.attention.output.dense`, h, h, 'encoder');
    norm(`${p}.attention.output.LayerNorm`, 'encoder');
    linear(`${p}.intermediate.dense`, h, c.intermediateSize, 'encoder');
    linear(`${p}.output.dense`, c.intermediateSize, h, 'encoder');
    norm(`${p}.output.LayerNorm`, 'encoder');
  }
  linear('bert.pooler.dense', h, h, 'pooler');
  linear('classifier', h, c.numLabels, 'head');
  return specs;
}

/** Parameter counts by group, from the config alone (no weights are allocated). */
export function countParameters(c: BertConfig): ParameterCounts {
  const counts: ParameterCounts = { embeddings: 0, encoder: 0, pooler: 0, head: 0, total: 0 };
  for (const s of bertParameterSpecs(c)) {
    const n = numel(s.shape);
    counts[s.group] += n;
    counts.total += n;
  }
  return counts;
}

let nextModelId = 0;

function validateConfig(c: BertConfig): void {
  const bad = (field: string, msg: string, fix?: string) => new UserError(msg, { where: `config: ${field}`, fix });
  const positive: Array<keyof BertConfig> = [
    'vocabSize',
    'hiddenSize',
    'numHiddenLayers',
    'numAttentionHeads',
    'intermediateSize',
    'maxPositionEmbeddings',
    'typeVocabSize',
    'numLabels',
  ];
  for (const f of positive) {
    const v = c[f];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
      throw bad(f, `${f} must be a positive integer, got ${JSON.stringify(v)}`);
  }
  if (c.hiddenSize % c.numAttentionHeads !== 0) {
    throw bad(
      'numAttentionHeads',
      `hiddenSize ${c.hiddenSize} is not a multiple of numAttentionHeads ${c.numAttentionHeads}`,
      'pick a head count that divides the hidden size',
    );
  }
  for (const f of ['hiddenDropoutProb', 'attentionProbsDropoutProb'] as const) {
    if (!(c[f] >= 0 && c[f] < 1)) throw bad(f, `${f} must be in [0, 1), got ${c[f]}`);
  }
  if (!(c.layerNormEps > 0)) throw bad('layerNormEps', `layerNormEps must be positive, got ${c.layerNormEps}`);
  if (c.hiddenAct !== 'gelu')
    throw bad('hiddenAct', `only "gelu" (exact erf GELU) is supported, got ${JSON.stringify(c.hiddenAct)}`);
}

/** PyTorch [out, in] → [in, out] (and back: the same operation with the dims swapped). */
function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[base + c];
  }
  return out;
}

// ---- the computation, one function per module of Hugging Face's modeling_bert ----

/** A Linear layer; its weight is stored [in, out]. */
interface Linear {
  weight: tf.Variable;
  bias: tf.Variable;
}
interface LayerNorm {
  weight: tf.Variable;
  bias: tf.Variable;
}

interface EmbeddingsWeights {
  wordEmbeddings: tf.Variable;
  positionEmbeddings: tf.Variable;
  tokenTypeEmbeddings: tf.Variable;
  layerNorm: LayerNorm;
}
interface SelfAttentionWeights {
  query: Linear;
  key: Linear;
  value: Linear;
}
/** BertSelfOutput's and BertOutput's weights. */
interface OutputWeights {
  dense: Linear;
  layerNorm: LayerNorm;
}
interface LayerWeights {
  attention: { self: SelfAttentionWeights; output: OutputWeights };
  intermediate: { dense: Linear };
  output: OutputWeights;
}
interface BertWeights {
  embeddings: EmbeddingsWeights;
  layers: LayerWeights[];
  pooler: { dense: Linear };
  classifier: Linear;
}

/** What the modules of one forward pass share. */
interface Pass {
  config: BertConfig;
  batch: number;
  seq: number;
  dropout: DropoutSites;
  topRows: TopRows;
}

/** The dropout sites of one pass in order: site k's seed derives from the pass's seed and k. */
class DropoutSites {
  private site = 0;
  constructor(
    private readonly training: boolean,
    private readonly seed: number | undefined,
  ) {}

  apply<T extends tf.Tensor>(x: T, rate: number): T {
    const site = this.site++;
    if (!this.training || rate <= 0) return x;
    return dropout(x, rate, this.seedOf(site)) as T;
  }

  /**
   * Dropout on `x`, a cut of a tensor of shape `full` (`cut` maps the full shape to x's rows): the
   * mask is drawn at the full shape and cut the same way, so the rows kept get the very mask the
   * full pass gives them (a mask drawn at x's shape would be a different draw).
   */
  applyCut<T extends tf.Tensor>(x: T, rate: number, full: number[], cut: (m: tf.Tensor) => tf.Tensor): T {
    const site = this.site++;
    if (!this.training || rate <= 0) return x;
    return tf.mul(x, cut(dropout(tf.ones(full), rate, this.seedOf(site)))) as T;
  }

  private seedOf(site: number): string | undefined {
    return this.seed === undefined ? undefined : `${this.seed}:${site}`;
  }
}

function dense(x: tf.Tensor2D, l: Linear): tf.Tensor2D {
  return linear(x, l.weight as tf.Tensor2D, l.bias as tf.Tensor1D);
}

function norm(x: tf.Tensor2D, n: LayerNorm, c: BertConfig): tf.Tensor2D {
  return layerNorm(x, n.weight as tf.Tensor1D, n.bias as tf.Tensor1D, c.layerNormEps);
}

/** BertEmbeddings: word + position + token type embeddings → LayerNorm → dropout, [b·s, h]. */
function bertEmbeddings(w: EmbeddingsWeights, inputIds: tf.Tensor2D, tokenTypeIds: tf.Tensor2D, p: Pass): tf.Tensor2D {
  const { batch: b, seq: s, config: c } = p;
  const h = c.hiddenSize;
  const word = tf.gather(w.wordEmbeddings, tf.reshape(inputIds, [b * s]));
  const position = tf.slice(w.positionEmbeddings, [0, 0], [s, h]);
  const tokenType = tf.gather(w.tokenTypeEmbeddings, tf.reshape(tokenTypeIds, [b * s]));
  const summed = tf.add(
    tf.reshape(tf.add(tf.reshape(word, [b, s, h]), position), [b * s, h]),
    tokenType,
  ) as tf.Tensor2D;
  return p.dropout.apply(norm(summed, w.layerNorm, c), c.hiddenDropoutProb);
}

/**
 * get_extended_attention_mask: [b, 1, 1, s], finfo.min for padded keys, added to the scores so
 * that those keys take exactly zero probability.
 */
function extendedAttentionMask(attentionMask: tf.Tensor2D, p: Pass): tf.Tensor4D {
  return tf.reshape(tf.mul(tf.sub(1, tf.cast(attentionMask, 'float32')), MASK_VALUE), [p.batch, 1, 1, p.seq]);
}

/** The [CLS] rows (position 0 of each sequence) of [b·s, h]: [b, h]. */
function clsRows(x: tf.Tensor2D, p: Pass): tf.Tensor2D {
  const h = x.shape[1];
  return tf.reshape(tf.slice(tf.reshape(x, [p.batch, p.seq, h]), [0, 0, 0], [p.batch, 1, h]), [p.batch, h]);
}

/** [b, heads, s, d] → [b·s, h]. */
function mergeHeads(x: tf.Tensor4D): tf.Tensor2D {
  const [b, heads, s, d] = x.shape;
  return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [b * s, heads * d]);
}

/**
 * BertSelfAttention: softmax(Q·Kᵀ/√d + mask)·V per head. Also returns the probabilities (before
 * dropout) and V [b, heads, s, d], for the internal losses.
 */
function bertSelfAttention(
  w: SelfAttentionWeights,
  x: tf.Tensor2D,
  mask: tf.Tensor4D,
  p: Pass,
): { context: tf.Tensor2D; probs: tf.Tensor4D; value: tf.Tensor4D } {
  const c = p.config;
  const heads = c.numAttentionHeads;
  const query = splitHeads(tf.mul(dense(x, w.query), 1 / Math.sqrt(headDim(c))), heads, p.seq);
  const value = splitHeads(dense(x, w.value), heads, p.seq);
  const scores = tf.add(attentionScores(query, dense(x, w.key)), mask) as tf.Tensor4D;
  const probs = softmax(scores);
  const context = mergeHeads(tf.matMul(p.dropout.apply(probs, c.attentionProbsDropoutProb), value));
  return { context, probs, value };
}

/**
 * BertOutput (and BertSelfOutput, the same computation): LayerNorm(dropout(dense(x)) + input).
 * `rows` 'cls': x and input hold the [CLS] rows only, [b, h] (the top layer under topRows 'cls').
 */
function bertOutput(w: OutputWeights, x: tf.Tensor2D, input: tf.Tensor2D, p: Pass, rows: TopRows = 'all'): tf.Tensor2D {
  const rate = p.config.hiddenDropoutProb;
  const y = dense(x, w.dense);
  const out =
    rows === 'all'
      ? p.dropout.apply(y, rate)
      : p.dropout.applyCut(y, rate, [p.batch * p.seq, y.shape[1]], (m) => clsRows(m as tf.Tensor2D, p));
  return norm(tf.add(out, input), w.layerNorm, p.config);
}

/** BertIntermediate: GELU(dense(x)). */
function bertIntermediate(w: { dense: Linear }, x: tf.Tensor2D): tf.Tensor2D {
  return gelu(dense(x, w.dense));
}

/** BertLayer: attention (self-attention, then its output) → intermediate → output. */
function bertLayer(
  w: LayerWeights,
  x: tf.Tensor2D,
  mask: tf.Tensor4D,
  p: Pass,
): { hidden: tf.Tensor2D; probs: tf.Tensor4D; value: tf.Tensor4D } {
  const self = bertSelfAttention(w.attention.self, x, mask, p);
  const attentionOutput = bertOutput(w.attention.output, self.context, x, p);
  const hidden = bertOutput(w.output, bertIntermediate(w.intermediate, attentionOutput), attentionOutput, p);
  return { hidden, probs: self.probs, value: self.value };
}

/**
 * The top BertLayer under topRows 'cls': keys and values for every row; queries, scores and
 * probabilities for every row when `wantProbs` (attention-kl reads them), else for the [CLS] rows
 * alone; then the context, attention output and feed-forward for the [CLS] rows only. Returns the
 * [CLS] rows of the layer's output, [b, h]. Row for row these are bertLayer's ops in bertLayer's
 * order, and the dropout masks are the full pass's (DropoutSites.applyCut), so the values equal the
 * full layer's [CLS] rows up to the summation order of the smaller matrix products.
 */
function bertLayerClsRows(
  w: LayerWeights,
  x: tf.Tensor2D,
  mask: tf.Tensor4D,
  p: Pass,
  wantProbs: boolean,
): { hidden: tf.Tensor2D; probs?: tf.Tensor4D; value: tf.Tensor4D } {
  const c = p.config;
  const { batch: b, seq: s } = p;
  const heads = c.numAttentionHeads;
  const sa = w.attention.self;
  const scale = 1 / Math.sqrt(headDim(c));
  const xCls = clsRows(x, p);
  let probs: tf.Tensor4D | undefined;
  let clsProbs: tf.Tensor4D; // [b, heads, 1, s]
  let value: tf.Tensor4D;
  if (wantProbs) {
    const query = splitHeads(tf.mul(dense(x, sa.query), scale), heads, s);
    value = splitHeads(dense(x, sa.value), heads, s);
    probs = softmax(tf.add(attentionScores(query, dense(x, sa.key)), mask) as tf.Tensor4D);
    clsProbs = tf.slice(probs, [0, 0, 0, 0], [b, heads, 1, s]);
  } else {
    const query = splitHeads(tf.mul(dense(xCls, sa.query), scale), heads, 1); // [b, heads, 1, d]
    value = splitHeads(dense(x, sa.value), heads, s);
    const keys = splitHeads(dense(x, sa.key), heads, s);
    clsProbs = softmax(tf.add(tf.matMul(query, keys, false, true), mask) as tf.Tensor4D);
  }
  const dropped = p.dropout.applyCut(clsProbs, c.attentionProbsDropoutProb, [b, heads, s, s], (m) =>
    tf.slice(m, [0, 0, 0, 0], [b, heads, 1, s]),
  );
  const context = mergeHeads(tf.matMul(dropped, value)); // [b, h]
  const attentionOutput = bertOutput(w.attention.output, context, xCls, p, 'cls');
  const hidden = bertOutput(w.output, bertIntermediate(w.intermediate, attentionOutput), attentionOutput, p, 'cls');
  return { hidden, probs, value };
}

interface Keep {
  hiddenStates: Set<number>;
  attentions: Set<number>;
  values: Set<number>;
  cls: Set<number>;
}

/**
 * BertEncoder: the layers in turn, from the embeddings' output. Returns the last layer's [CLS]
 * rows and the hidden states, [CLS] rows, attentions and values asked for (empty slots elsewhere).
 */
function bertEncoder(
  layers: LayerWeights[],
  embeddings: tf.Tensor2D,
  mask: tf.Tensor4D,
  keep: Keep,
  p: Pass,
): Pick<BertOutputs, 'hiddenStates' | 'attentions' | 'values' | 'cls'> & { lastCls: tf.Tensor2D } {
  const L = layers.length;
  const hiddenStates: tf.Tensor3D[] = new Array<tf.Tensor3D>(L + 1);
  const attentions: tf.Tensor4D[] = new Array<tf.Tensor4D>(L);
  const values: tf.Tensor4D[] = new Array<tf.Tensor4D>(L);
  const cls: tf.Tensor2D[] = new Array<tf.Tensor2D>(L + 1);
  const to3d = (x: tf.Tensor2D) => tf.reshape(x, [p.batch, p.seq, p.config.hiddenSize]) as tf.Tensor3D;
  let x = embeddings;
  if (keep.hiddenStates.has(0)) hiddenStates[0] = to3d(x);
  if (keep.cls.has(0)) cls[0] = clsRows(x, p);
  for (let i = 0; i < L; i++) {
    if (i === L - 1 && p.topRows === 'cls') {
      const out = bertLayerClsRows(layers[i], x, mask, p, keep.attentions.has(i));
      if (keep.values.has(i)) values[i] = out.value;
      if (out.probs) attentions[i] = out.probs;
      if (keep.cls.has(L)) cls[L] = out.hidden;
      return { lastCls: out.hidden, hiddenStates, attentions, values, cls };
    }
    const out = bertLayer(layers[i], x, mask, p);
    x = out.hidden;
    if (keep.values.has(i)) values[i] = out.value;
    if (keep.attentions.has(i)) attentions[i] = out.probs;
    if (keep.hiddenStates.has(i + 1)) hiddenStates[i + 1] = to3d(x);
    if (keep.cls.has(i + 1)) cls[i + 1] = clsRows(x, p);
  }
  return { lastCls: clsRows(x, p), hiddenStates, attentions, values, cls };
}

/** BertPooler: tanh(dense(the first token's hidden state)), from the last layer's [CLS] rows [b, h]. */
function bertPooler(w: { dense: Linear }, first: tf.Tensor2D): tf.Tensor2D {
  return tf.tanh(dense(first, w.dense));
}

/** Disposes every tensor a forward pass returned (the slots not kept are empty). */
export function disposeBertOutputs(o: BertOutputs): void {
  tf.dispose([
    o.logits,
    o.pooled,
    ...o.hiddenStates.filter(Boolean),
    ...o.attentions.filter(Boolean),
    ...(o.values ?? []).filter(Boolean),
    ...o.cls.filter(Boolean),
  ]);
}

export class BertModel {
  readonly config: BertConfig;
  /** Names of the parameters that were freshly initialised because the tensors lacked them. */
  readonly newlyInitialized: readonly string[];
  private readonly vars = new Map<string, tf.Variable>();
  private readonly specs: ParamSpec[];
  private readonly weights: BertWeights;
  private readonly parameterCount: number;
  private disposed = false;

  private constructor(
    config: BertConfig,
    values: Map<string, Float32Array>,
    trainable: boolean,
    newlyInitialized: string[],
  ) {
    registerMissingKernels();
    this.config = config;
    this.newlyInitialized = newlyInitialized;
    this.specs = bertParameterSpecs(config);
    this.parameterCount = countParameters(config).total;
    // Variable names are global in TF.js: prefix them so a teacher and a student can coexist.
    const prefix = `bert${nextModelId++}/`;
    try {
      for (const spec of this.specs) {
        const data = values.get(spec.name)!;
        const [stored, shape] =
          spec.kind === 'linear'
            ? [transpose2d(data, spec.shape[0], spec.shape[1]), [spec.shape[1], spec.shape[0]]]
            : [data, spec.shape];
        const t = tf.tensor(stored, shape, 'float32');
        this.vars.set(spec.name, tf.variable(t, trainable, prefix + spec.name));
        t.dispose();
      }
    } catch (e) {
      this.dispose();
      throw e;
    }
    this.weights = this.bertWeights();
  }

  /** The variables grouped as Hugging Face's modules hold them. */
  private bertWeights(): BertWeights {
    const linearAt = (p: string): Linear => ({
      weight: this.variable(`${p}.weight`),
      bias: this.variable(`${p}.bias`),
    });
    const layerNormAt: (p: string) => LayerNorm = linearAt;
    const output = (p: string): OutputWeights => ({
      dense: linearAt(`${p}.dense`),
      layerNorm: layerNormAt(`${p}.LayerNorm`),
    });
    const e = 'bert.embeddings';
    return {
      embeddings: {
        wordEmbeddings: this.variable(`${e}.word_embeddings.weight`),
        positionEmbeddings: this.variable(`${e}.position_embeddings.weight`),
        tokenTypeEmbeddings: this.variable(`${e}.token_type_embeddings.weight`),
        layerNorm: layerNormAt(`${e}.LayerNorm`),
      },
      layers: Array.from({ length: this.config.numHiddenLayers }, (_, i) => {
        const p = `bert.encoder.layer.${i}`;
        return {
          attention: {
            self: {
              query: linearAt(`${p}.attention.self.query`),
              key: linearAt(`${p}.attention.self.key`),
              value: linearAt(`${p}.attention.self.value`),
            },
            output: output(`${p}.attention.output`),
          },
          intermediate: { dense: linearAt(`${p}.intermediate.dense`) },
          output: output(`${p}.output`),
        };
      }),
      pooler: { dense: linearAt('bert.pooler.dense') },
      classifier: linearAt('classifier'),
    };
  }

  /**
   * Builds the model from Hugging Face tensors ('bert.'-prefixed names, or the unprefixed names of a
   * bare `BertModel`; `LayerNorm.gamma/beta` accepted for `weight/bias`). A missing pooler or
   * classifier is initialised as Hugging Face would (see `newlyInitialized`); anything else
   * missing or misshapen is a UserError. Tensors the model does not use are ignored.
   */
  static fromNamedTensors(config: BertConfig, tensors: NamedTensors, opts: FromNamedTensorsOptions = {}): BertModel {
    validateConfig(config);
    const where = opts.source ?? 'weights';
    const values = new Map<string, Float32Array>();
    const fresh: string[] = [];
    for (const spec of bertParameterSpecs(config)) {
      const t = lookup(tensors, spec.name);
      if (!t) {
        if (spec.group === 'pooler' || spec.group === 'head') {
          values.set(spec.name, initialValues(spec, config, opts.initHeadSeed ?? 0));
          fresh.push(spec.name);
          continue;
        }
        throw new UserError(`tensor "${spec.name}" is missing`, {
          where,
          fix: 'the checkpoint does not hold a BERT model of this configuration; check config.json against the weights',
        });
      }
      if (t.shape.length !== spec.shape.length || t.shape.some((d, i) => d !== spec.shape[i])) {
        const isHead = spec.group === 'head';
        throw new UserError(
          `tensor "${spec.name}" has shape [${t.shape.join(', ')}], but the config needs [${spec.shape.join(', ')}]`,
          {
            where,
            fix: isHead
              ? `the checkpoint's head has ${t.shape[0]} outputs: set num_labels to match, or remove classifier.* to start a new head`
              : 'config.json does not describe these weights; use the config.json saved with them',
          },
        );
      }
      if (t.data.length !== numel(t.shape))
        throw new UserError(`tensor "${spec.name}" has ${t.data.length} values for shape [${t.shape.join(', ')}]`, {
          where,
        });
      values.set(spec.name, t.data);
    }
    return new BertModel(config, values, opts.trainable ?? true, fresh);
  }

  /**
   * Hugging Face's `_init_weights`: Linear and Embedding weights ~ N(0, initializerRange) (plain
   * normal, not truncated), biases 0, LayerNorm weight 1 and bias 0, the padding row of the word
   * embeddings zeroed. The same seed gives the same weights on every backend.
   */
  static randomInit(config: BertConfig, seed: number): BertModel {
    validateConfig(config);
    const values = new Map<string, Float32Array>();
    for (const spec of bertParameterSpecs(config)) values.set(spec.name, initialValues(spec, config, seed));
    return new BertModel(config, values, true, []);
  }

  forward(inputs: BertInputs, opts: ForwardOptions): BertOutputs {
    if (this.disposed) throw new Error('BertModel: used after dispose()');
    const c = this.config;
    const { inputIds, tokenTypeIds, attentionMask } = inputs;
    if (inputIds.rank !== 2)
      throw new Error(`BertModel.forward: inputIds must be [batch, seq], got [${inputIds.shape}]`);
    const [b, s] = inputIds.shape;
    for (const [name, t] of [
      ['tokenTypeIds', tokenTypeIds],
      ['attentionMask', attentionMask],
    ] as const) {
      if (t.shape[0] !== b || t.shape[1] !== s || t.rank !== 2)
        throw new Error(`BertModel.forward: ${name} has shape [${t.shape}], inputIds [${inputIds.shape}]`);
    }
    if (s > c.maxPositionEmbeddings) {
      throw new UserError(`sequences of ${s} tokens are longer than the model's ${c.maxPositionEmbeddings} positions`, {
        where: 'maxSeqLen',
        fix: `set the maximum sequence length to at most ${c.maxPositionEmbeddings}`,
      });
    }
    // The wasm heap cannot grow past 4 GiB and aborts the process when it must: refuse first.
    assertForwardFitsWasmHeap(c, this.parameterCount, b, s, opts.training);
    const L = c.numHiddenLayers;
    const keep: Keep = {
      hiddenStates: keepSet(opts.keep?.hiddenStates, L + 1),
      attentions: keepSet(opts.keep?.attentions, L),
      values: keepSet(opts.keep?.values ?? [], L),
      cls: keepSet(opts.keep?.cls ?? [], L + 1),
    };
    const topRows: TopRows = opts.topRows ?? 'all';
    if (topRows !== 'all' && topRows !== 'cls')
      throw new Error(`BertModel.forward: topRows must be 'all' or 'cls', got ${JSON.stringify(topRows)}`);
    if (topRows === 'cls' && keep.hiddenStates.has(L)) {
      throw new Error(
        `BertModel.forward: hidden state ${L} (the top layer) was asked for in full, but topRows 'cls' computes only its [CLS] rows; ask for keep.cls [${L}] instead, or pass topRows 'all'`,
      );
    }
    const w = this.weights;
    return tf.tidy(() => {
      const p: Pass = {
        config: c,
        batch: b,
        seq: s,
        dropout: new DropoutSites(opts.training, opts.seed),
        topRows,
      };
      const embeddings = bertEmbeddings(w.embeddings, inputIds, tokenTypeIds, p);
      const mask = extendedAttentionMask(attentionMask, p);
      const { lastCls, hiddenStates, attentions, values, cls } = bertEncoder(w.layers, embeddings, mask, keep, p);
      const pooled = bertPooler(w.pooler, lastCls);
      const logits = dense(p.dropout.apply(pooled, c.hiddenDropoutProb), w.classifier);
      return { logits, pooled, hiddenStates, attentions, values, cls };
    });
  }

  /** The weights under Hugging Face names in PyTorch orientation (Linear weights [out, in]). */
  toNamedTensors(): NamedTensors {
    const out: NamedTensors = new Map<string, NamedTensor>();
    for (const spec of this.specs) {
      const data = this.variable(spec.name).dataSync() as Float32Array;
      const values = spec.kind === 'linear' ? transpose2d(data, spec.shape[1], spec.shape[0]) : Float32Array.from(data);
      out.set(spec.name, { shape: [...spec.shape], data: values });
    }
    return out;
  }

  trainableVariables(): tf.Variable[] {
    return [...this.vars.values()].filter((v) => v.trainable);
  }

  /** The variable for a Hugging Face parameter name. Linear weights are stored [in, out]. */
  variable(name: string): tf.Variable {
    const v = this.vars.get(name);
    if (!v) throw new Error(`BertModel: no parameter named "${name}"`);
    return v;
  }

  /** Hugging Face names of every parameter, in Hugging Face order. */
  parameterNames(): string[] {
    return this.specs.map((s) => s.name);
  }

  parameterCounts(): ParameterCounts {
    return countParameters(this.config);
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
    this.disposed = true;
  }
}

function keepSet(wanted: readonly number[] | undefined, n: number): Set<number> {
  if (wanted === undefined) return new Set(Array.from({ length: n }, (_, i) => i));
  for (const i of wanted) {
    if (!Number.isInteger(i) || i < 0 || i >= n)
      throw new Error(`BertModel.forward: keep index ${i} is outside 0..${n - 1}`);
  }
  return new Set(wanted);
}

/** Finds a tensor by its 'bert.'-prefixed name or the aliases older/bare checkpoints use. */
function lookup(tensors: NamedTensors, name: string): NamedTensor | undefined {
  const candidates = [name];
  if (name.startsWith('bert.')) candidates.push(name.slice('bert.'.length));
  for (const n of [...candidates]) {
    if (n.endsWith('LayerNorm.weight')) candidates.push(n.replace(/weight$/, 'gamma'));
    if (n.endsWith('LayerNorm.bias')) candidates.push(n.replace(/bias$/, 'beta'));
  }
  for (const n of candidates) {
    const t = tensors.get(n);
    if (t) return t;
  }
  return undefined;
}

function initialValues(spec: ParamSpec, c: BertConfig, seed: number): Float32Array {
  const n = numel(spec.shape);
  switch (spec.kind) {
    case 'embedding':
    case 'linear': {
      const data = seededNormal(n, c.initializerRange, seed, spec.name);
      if (spec.name === 'bert.embeddings.word_embeddings.weight' && c.padTokenId >= 0 && c.padTokenId < c.vocabSize) {
        data.fill(0, c.padTokenId * c.hiddenSize, (c.padTokenId + 1) * c.hiddenSize);
      }
      return data;
    }
    case 'norm-weight':
      return new Float32Array(n).fill(1);
    case 'bias':
    case 'norm-bias':
      return new Float32Array(n);
  }
}
