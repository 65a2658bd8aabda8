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
import { DROPOUT_KERNEL, LAYER_NORM_GRAD_KERNEL, LAYER_NORM_KERNEL } from './fast-kernels/elementwise';
import { activeKernelPath } from './fast-kernels';
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
}

export interface ForwardOptions {
  /** Dropout is applied only when true. */
  training: boolean;
  /**
   * Makes the dropout masks reproducible; each dropout site derives its own seed from it. A
   * training loop should pass a different seed each step (e.g. runSeed · 1e6 + step), or none.
   */
  seed?: number;
  /**
   * Which hidden states (indices 0..L, 0 = embeddings) and attentions (indices 0..L-1, layer k at
   * k - 1) to return; the others are disposed inside the forward pass to save memory. Omitted:
   * all of them.
   */
  keep?: {
    hiddenStates?: readonly number[];
    attentions?: readonly number[];
    /** Value vectors to return (layer k at k - 1); default none, even when `keep` is omitted. */
    values?: readonly number[];
  };
}

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
  const add = (name: string, shape: number[], kind: ParamKind, group: ParamGroup) => specs.push({ name, shape, kind, group });
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

interface Dense { w: tf.Variable; b: tf.Variable }
interface Norm { gamma: tf.Variable; beta: tf.Variable }
interface LayerWeights {
  query: Dense; key: Dense; value: Dense;
  attentionOutput: Dense; attentionNorm: Norm;
  intermediate: Dense; output: Dense; outputNorm: Norm;
}

let nextModelId = 0;

function validateConfig(c: BertConfig): void {
  const bad = (field: string, msg: string, fix?: string) => new UserError(msg, { where: `config: ${field}`, fix });
  const positive: Array<keyof BertConfig> = ['vocabSize', 'hiddenSize', 'numHiddenLayers', 'numAttentionHeads', 'intermediateSize', 'maxPositionEmbeddings', 'typeVocabSize', 'numLabels'];
  for (const f of positive) {
    const v = c[f];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw bad(f, `${f} must be a positive integer, got ${JSON.stringify(v)}`);
  }
  if (c.hiddenSize % c.numAttentionHeads !== 0) {
    throw bad('numAttentionHeads', `hiddenSize ${c.hiddenSize} is not a multiple of numAttentionHeads ${c.numAttentionHeads}`, 'pick a head count that divides the hidden size');
  }
  for (const f of ['hiddenDropoutProb', 'attentionProbsDropoutProb'] as const) {
    if (!(c[f] >= 0 && c[f] < 1)) throw bad(f, `${f} must be in [0, 1), got ${c[f]}`);
  }
  if (!(c.layerNormEps > 0)) throw bad('layerNormEps', `layerNormEps must be positive, got ${c.layerNormEps}`);
  if (c.hiddenAct !== 'gelu') throw bad('hiddenAct', `only "gelu" (exact erf GELU) is supported, got ${JSON.stringify(c.hiddenAct)}`);
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

// ---- the computation, as small functions so faster per-op paths can replace them one by one ----

/** x [n, in] · w [in, out] + b. */
function dense(x: tf.Tensor2D, p: Dense): tf.Tensor2D {
  if (activeKernelPath() === 'blas') return biasedProduct(x, p.w, p.b) as tf.Tensor2D;
  return tf.add(tf.matMul(x, p.w), p.b);
}

/**
 * x·w + b as one BLAS call that starts from the bias (no separate pass adding it), with the
 * gradient the two ops would have: it keeps only x and w (TF.js's own fused op also keeps its
 * output, for activations this layer does not have).
 */
const biasedProduct = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [x, w, b] = args as tf.Tensor2D[];
  (args[3] as tf.GradSaveFunc)([x, w]);
  return {
    value: tf.fused.matMul({ a: x, b: w, bias: b }),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as tf.Tensor2D[];
      const d = dy as tf.Tensor2D;
      return [tf.matMul(d, ws, false, true), tf.matMul(xs, d, true, false), tf.sum(d, 0)];
    },
  };
});

function layerNorm(x: tf.Tensor2D, p: Norm, eps: number): tf.Tensor2D {
  if (tf.getKernel(LAYER_NORM_KERNEL, tf.getBackend())) return fusedLayerNorm(eps)(x, p.gamma, p.beta) as tf.Tensor2D;
  const mean = tf.mean(x, -1, true);
  const centered = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centered), -1, true);
  return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, eps))), p.gamma), p.beta);
}

const fusedLayerNormByEps = new Map<number, (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => tf.Tensor>();

/**
 * LayerNorm as one native kernel forward and one backward (src/model/fast-kernels, when the addon
 * is installed for the backend) instead of about nine ops forward and twenty backward.
 */
function fusedLayerNorm(eps: number): (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => tf.Tensor {
  let f = fusedLayerNormByEps.get(eps);
  if (!f) {
    f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const [x, gamma, beta] = args as tf.Tensor[];
      (args[3] as tf.GradSaveFunc)([x, gamma]);
      return {
        value: tf.engine().runKernel(LAYER_NORM_KERNEL, { x, gamma, beta }, { eps }) as tf.Tensor,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.engine().runKernel(LAYER_NORM_GRAD_KERNEL, { dy, x: saved[0], gamma: saved[1] }, { eps }) as tf.Tensor[],
      };
    }) as (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => tf.Tensor;
    fusedLayerNormByEps.set(eps, f);
  }
  return f;
}

/** Two 32-bit FNV-1a hashes of a dropout seed string: the native kernel's 64-bit seed. */
function seedWords(seed: string): [number, number] {
  let hi = 0x811c9dc5;
  let lo = 0x050c5d1f;
  for (let i = 0; i < seed.length; i++) {
    const c = seed.charCodeAt(i);
    hi = Math.imul(hi ^ c, 0x01000193) >>> 0;
    lo = Math.imul(lo ^ c, 0x01000193) >>> 0;
    lo = Math.imul(lo ^ (lo >>> 15), 0x2c1b3c6d) >>> 0;
  }
  return [hi, lo];
}

/**
 * Dropout as one native pass forward and one backward (the mask is recomputed from the seed, not
 * stored). Its masks come from the kernel's own counter-based generator, so they differ from
 * tf.dropout's, but a seed still makes them reproducible.
 */
function fusedDropout(x: tf.Tensor, rate: number, seed: string | undefined): tf.Tensor {
  const [seedHi, seedLo] = seedWords(seed ?? `${Math.random()}:${Date.now()}`);
  const attrs = { rate, seedHi, seedLo };
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
    value: tf.engine().runKernel(DROPOUT_KERNEL, { x: args[0] as tf.Tensor }, attrs) as tf.Tensor,
    gradFunc: (dy: tf.Tensor) => tf.engine().runKernel(DROPOUT_KERNEL, { x: dy }, attrs) as tf.Tensor,
  }));
  return f(x);
}

/** [b·s, h] → [b, heads, s, d] (or [b, heads, d, s] with `keyLayout`, so QKᵀ needs no transposed operand). */
function splitHeads(x: tf.Tensor2D, b: number, s: number, heads: number, d: number, keyLayout = false): tf.Tensor4D {
  return tf.transpose(tf.reshape(x, [b, s, heads, d]), keyLayout ? [0, 2, 3, 1] : [0, 2, 1, 3]);
}

/** [b, heads, s, d] → [b·s, h]. */
function mergeHeads(x: tf.Tensor4D): tf.Tensor2D {
  const [b, heads, s, d] = x.shape;
  return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [b * s, heads * d]);
}

class DropoutSites {
  private site = 0;
  constructor(private readonly training: boolean, private readonly seed: number | undefined) {}

  apply<T extends tf.Tensor>(x: T, rate: number): T {
    const site = this.site++;
    if (!this.training || rate <= 0) return x;
    const seed = this.seed === undefined ? undefined : `${this.seed}:${site}`;
    if (x.dtype === 'float32' && tf.getKernel(DROPOUT_KERNEL, tf.getBackend())) return fusedDropout(x, rate, seed) as T;
    return tf.dropout(x, rate, undefined, seed) as T;
  }
}

export class BertModel {
  readonly config: BertConfig;
  /** Names of the parameters that were freshly initialised because the tensors lacked them. */
  readonly newlyInitialized: readonly string[];
  private readonly vars = new Map<string, tf.Variable>();
  private readonly specs: ParamSpec[];
  private readonly layers: LayerWeights[] = [];
  private readonly parameterCount: number;
  private disposed = false;

  private constructor(config: BertConfig, values: Map<string, Float32Array>, trainable: boolean, newlyInitialized: string[]) {
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
        const [stored, shape] = spec.kind === 'linear'
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
    const denseVars = (p: string): Dense => ({ w: this.variable(`${p}.weight`), b: this.variable(`${p}.bias`) });
    const normVars = (p: string): Norm => ({ gamma: this.variable(`${p}.weight`), beta: this.variable(`${p}.bias`) });
    for (let i = 0; i < config.numHiddenLayers; i++) {
      const p = `bert.encoder.layer.${i}`;
      this.layers.push({
        query: denseVars(`${p}.attention.self.query`),
        key: denseVars(`${p}.attention.self.key`),
        value: denseVars(`${p}.attention.self.value`),
        attentionOutput: denseVars(`${p}.attention.output.dense`),
        attentionNorm: normVars(`${p}.attention.output.LayerNorm`),
        intermediate: denseVars(`${p}.intermediate.dense`),
        output: denseVars(`${p}.output.dense`),
        outputNorm: normVars(`${p}.output.LayerNorm`),
      });
    }
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
        throw new UserError(`tensor "${spec.name}" has shape [${t.shape.join(', ')}], but the config needs [${spec.shape.join(', ')}]`, {
          where,
          fix: isHead
            ? `the checkpoint's head has ${t.shape[0]} outputs: set num_labels to match, or remove classifier.* to start a new head`
            : 'config.json does not describe these weights; use the config.json saved with them',
        });
      }
      if (t.data.length !== numel(t.shape)) throw new UserError(`tensor "${spec.name}" has ${t.data.length} values for shape [${t.shape.join(', ')}]`, { where });
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
    if (inputIds.rank !== 2) throw new Error(`BertModel.forward: inputIds must be [batch, seq], got [${inputIds.shape}]`);
    const [b, s] = inputIds.shape;
    for (const [name, t] of [['tokenTypeIds', tokenTypeIds], ['attentionMask', attentionMask]] as const) {
      if (t.shape[0] !== b || t.shape[1] !== s || t.rank !== 2) throw new Error(`BertModel.forward: ${name} has shape [${t.shape}], inputIds [${inputIds.shape}]`);
    }
    if (s > c.maxPositionEmbeddings) {
      throw new UserError(`sequences of ${s} tokens are longer than the model's ${c.maxPositionEmbeddings} positions`, {
        where: 'maxSeqLen',
        fix: `set the maximum sequence length to at most ${c.maxPositionEmbeddings}`,
      });
    }
    // The wasm heap cannot grow past 4 GiB and aborts the process when it must: refuse first.
    if (tf.getBackend() === 'wasm') assertForwardFitsWasmHeap(c, this.parameterCount, b, s, opts.training, tf.memory().numBytes);
    const L = c.numHiddenLayers;
    const keepHidden = keepSet(opts.keep?.hiddenStates, L + 1);
    const keepAttn = keepSet(opts.keep?.attentions, L);
    const keepValues = keepSet(opts.keep?.values ?? [], L);
    const dropout = new DropoutSites(opts.training, opts.seed);
    const heads = c.numAttentionHeads;
    const d = headDim(c);
    const h = c.hiddenSize;

    return tf.tidy(() => {
      const hiddenStates: tf.Tensor3D[] = new Array<tf.Tensor3D>(L + 1);
      const attentions: tf.Tensor4D[] = new Array<tf.Tensor4D>(L);
      const values: tf.Tensor4D[] = new Array<tf.Tensor4D>(L);
      const to3d = (x: tf.Tensor2D) => tf.reshape(x, [b, s, h]) as tf.Tensor3D;

      // Embeddings: word + position + token type → LayerNorm → dropout.
      const word = tf.gather(this.variable('bert.embeddings.word_embeddings.weight'), tf.reshape(inputIds, [b * s]));
      const position = tf.slice(this.variable('bert.embeddings.position_embeddings.weight'), [0, 0], [s, h]);
      const tokenType = tf.gather(this.variable('bert.embeddings.token_type_embeddings.weight'), tf.reshape(tokenTypeIds, [b * s]));
      const summed = tf.add(tf.reshape(tf.add(tf.reshape(word, [b, s, h]), position), [b * s, h]), tokenType) as tf.Tensor2D;
      let x = dropout.apply(layerNorm(summed, this.norm('bert.embeddings.LayerNorm'), c.layerNormEps), c.hiddenDropoutProb);
      if (keepHidden.has(0)) hiddenStates[0] = to3d(x);

      // Padded keys get finfo.min added to their scores, so they take exactly zero probability.
      const maskBias = tf.reshape(tf.mul(tf.sub(1, tf.cast(attentionMask, 'float32')), MASK_VALUE), [b, 1, 1, s]);
      const scale = 1 / Math.sqrt(d);
      const backendName = tf.getBackend();
      const transposedProductsAreFree = (backendName !== 'wasm' && backendName !== 'cpu') || activeKernelPath(backendName) === 'blas';

      for (let i = 0; i < L; i++) {
        const w = this.layers[i];
        const q = splitHeads(tf.mul(dense(x, w.query), scale) as tf.Tensor2D, b, s, heads, d);
        const v = splitHeads(dense(x, w.value), b, s, heads, d);
        if (keepValues.has(i)) values[i] = v;
        // QKᵀ: BLAS and the native backends take a transposed operand for free; the wasm and cpu
        // kernels without BLAS are far faster with K laid out as Kᵀ.
        const qk = transposedProductsAreFree
          ? tf.matMul(q, splitHeads(dense(x, w.key), b, s, heads, d), false, true)
          : tf.matMul(q, splitHeads(dense(x, w.key), b, s, heads, d, true));
        const scores = tf.add(qk, maskBias) as tf.Tensor4D;
        const probs = softmax(scores) as tf.Tensor4D;
        if (keepAttn.has(i)) attentions[i] = probs;
        const context = mergeHeads(tf.matMul(dropout.apply(probs, c.attentionProbsDropoutProb), v));
        const attnOut = dropout.apply(dense(context, w.attentionOutput), c.hiddenDropoutProb);
        const x1 = layerNorm(tf.add(attnOut, x), w.attentionNorm, c.layerNormEps);
        const inter = gelu(dense(x1, w.intermediate));
        const ffOut = dropout.apply(dense(inter, w.output), c.hiddenDropoutProb);
        x = layerNorm(tf.add(ffOut, x1), w.outputNorm, c.layerNormEps);
        if (keepHidden.has(i + 1)) hiddenStates[i + 1] = to3d(x);
      }

      const cls = tf.reshape(tf.slice(tf.reshape(x, [b, s, h]), [0, 0, 0], [b, 1, h]), [b, h]) as tf.Tensor2D;
      const pooled = tf.tanh(dense(cls, this.dense('bert.pooler.dense')));
      const logits = dense(dropout.apply(pooled, c.hiddenDropoutProb), this.dense('classifier'));
      return { logits, pooled, hiddenStates, attentions, values };
    });
  }

  /** The weights under Hugging Face names in PyTorch orientation (Linear weights [out, in]). */
  toNamedTensors(): NamedTensors {
    const out: NamedTensors = new Map<string, NamedTensor>();
    for (const spec of this.specs) {
      const data = this.variable(spec.name).dataSync() as Float32Array;
      const values = spec.kind === 'linear'
        ? transpose2d(data, spec.shape[1], spec.shape[0])
        : Float32Array.from(data);
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

  private dense(prefix: string): Dense {
    return { w: this.variable(`${prefix}.weight`), b: this.variable(`${prefix}.bias`) };
  }

  private norm(prefix: string): Norm {
    return { gamma: this.variable(`${prefix}.weight`), beta: this.variable(`${prefix}.bias`) };
  }
}

function keepSet(wanted: readonly number[] | undefined, n: number): Set<number> {
  if (wanted === undefined) return new Set(Array.from({ length: n }, (_, i) => i));
  for (const i of wanted) {
    if (!Number.isInteger(i) || i < 0 || i >= n) throw new Error(`BertModel.forward: keep index ${i} is outside 0..${n - 1}`);
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
