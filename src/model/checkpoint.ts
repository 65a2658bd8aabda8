/**
 * BERT checkpoints in the Hugging Face folder layout: config.json + model.safetensors (or shards
 * listed in model.safetensors.index.json) + vocab.txt. Tensors are returned under the canonical
 * BertForSequenceClassification names ('bert.'-prefixed encoder, 'classifier.*' head) in PyTorch
 * orientation. Pickled (.bin) and Keras (.h5) weights are refused: unpickling can run code.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BertConfig } from './config';
import { defaultLabels, parseHfConfig, toHfConfig } from './hf-config';
import { seededNormal } from './init';
import { resolveModelFolder } from './model-folder';
import { NamedTensors, numel } from './named-tensors';
import { SafetensorsEntry, readSafetensorsFile, serializeSafetensors, toFloat32 } from './safetensors';
import { UserError } from '../util/errors';
import { recoverDir, writeDirAtomic, writeFileAtomic } from '../util/atomic-fs';

export interface LoadedCheckpoint {
  /** The folder the weights came from: the one given, or its sentence-transformers Transformer subfolder. */
  dir: string;
  config: BertConfig;
  /** Canonical HF names ('bert.'-prefixed encoder names + 'classifier.weight'/'classifier.bias'), PyTorch orientation. */
  tensors: NamedTensors;
  hasHead: boolean;
  /** false: the file had no pooler, and `tensors` holds a freshly initialised one (see notes). */
  hasPooler: boolean;
  /** Human-readable remarks about what was ignored, renamed or will be initialised. */
  notes: string[];
  vocabFile?: string;
  tokenizerFile?: string;
  /** do_lower_case from tokenizer_config.json, when that file says. */
  doLowerCase?: boolean;
}

export interface LoadOptions {
  /** Classes the task needs; a classifier head of another size is refused. */
  numLabels?: number;
  labels?: string[];
  /** The task is regression (one output). */
  regression?: boolean;
}

export interface SaveOptions {
  /** Copied into the checkpoint as vocab.txt (tokenizer files are written only with a vocabulary). */
  vocabFile?: string;
  /** Defaults to lower-casing, as bert-base-uncased. */
  tokenizerConfig?: { doLowerCase: boolean };
}

const CONFIG_FILE = 'config.json';
const WEIGHTS_FILE = 'model.safetensors';
const WEIGHTS_INDEX_FILE = 'model.safetensors.index.json';
const ENCODER_PREFIX = 'bert.';
const HEAD_NAMES = ['classifier.weight', 'classifier.bias'];
const POOLER_NAMES = ['bert.pooler.dense.weight', 'bert.pooler.dense.bias'];

/** Every parameter of BertForSequenceClassification (or of the encoder alone) with its PyTorch shape, in state_dict order. */
export function expectedTensorShapes(config: BertConfig, withHead: boolean): Map<string, number[]> {
  const H = config.hiddenSize;
  const I = config.intermediateSize;
  const m = new Map<string, number[]>();
  const linear = (name: string, out: number, inp: number) => {
    m.set(`${name}.weight`, [out, inp]);
    m.set(`${name}.bias`, [out]);
  };
  const layerNorm = (name: string) => {
    m.set(`${name}.weight`, [H]);
    m.set(`${name}.bias`, [H]);
  };
  m.set('bert.embeddings.word_embeddings.weight', [config.vocabSize, H]);
  m.set('bert.embeddings.position_embeddings.weight', [config.maxPositionEmbeddings, H]);
  m.set('bert.embeddings.token_type_embeddings.weight', [config.typeVocabSize, H]);
  layerNorm('bert.embeddings.LayerNorm');
  for (let i = 0; i < config.numHiddenLayers; i++) {
    const p = `bert.encoder.layer.${i}`;
    linear(`${p}.attention.self.query`, H, H);
    linear(`${p}.attention.self.key`, H, H);
    linear(`${p}.attention.self.value`, H, H);
    linear(`${p}.attention.output.dense`, H, H);
    layerNorm(`${p}.attention.output.LayerNorm`);
    linear(`${p}.intermediate.dense`, I, H);
    linear(`${p}.output.dense`, H, I);
    layerNorm(`${p}.output.LayerNorm`);
  }
  linear('bert.pooler.dense', H, H);
  if (withHead) linear('classifier', config.numLabels, H);
  return m;
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read ${what} (${(e as Error).message})`, { where: file });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UserError(`${what} is not valid JSON (${(e as Error).message})`, {
      where: file,
      fix: 'export the checkpoint again with save_pretrained()',
    });
  }
}

/** A safetensors tensor with the file it came from (for messages about it). */
interface RawTensor {
  entry: SafetensorsEntry;
  file: string;
}

/** Reads model.safetensors, or every shard listed by model.safetensors.index.json. */
function readWeights(dir: string, architectures: unknown): { tensors: Map<string, RawTensor>; where: string } {
  const single = path.join(dir, WEIGHTS_FILE);
  const index = path.join(dir, WEIGHTS_INDEX_FILE);
  const tensors = new Map<string, RawTensor>();
  if (isFile(single)) {
    const st = readSafetensorsFile(single);
    for (const [name, entry] of st.entries) tensors.set(name, { entry, file: single });
    return { tensors, where: single };
  }
  if (isFile(index)) {
    const json = readJson(index, WEIGHTS_INDEX_FILE);
    const weightMap = (json as { weight_map?: unknown } | null)?.weight_map;
    if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
      throw new UserError('the index has no "weight_map" object', {
        where: index,
        fix: 'export the checkpoint again with save_pretrained()',
      });
    }
    const shards = new Map<string, string[]>();
    for (const [name, shard] of Object.entries(weightMap as Record<string, unknown>)) {
      if (typeof shard !== 'string') throw new UserError(`weight_map["${name}"] is not a file name`, { where: index });
      const shardPath = path.resolve(dir, shard);
      if (path.dirname(shardPath) !== path.resolve(dir)) {
        throw new UserError(`weight_map["${name}"] names "${shard}", which is not a file in the checkpoint folder`, {
          where: index,
        });
      }
      if (!shards.has(shardPath)) shards.set(shardPath, []);
      shards.get(shardPath)!.push(name);
    }
    for (const [shardPath, names] of shards) {
      if (!isFile(shardPath)) {
        throw new UserError(`the shard ${path.basename(shardPath)} listed in ${WEIGHTS_INDEX_FILE} is missing`, {
          where: shardPath,
          fix: 'copy every model-*.safetensors file of the checkpoint',
        });
      }
      const st = readSafetensorsFile(shardPath);
      for (const name of names) {
        if (!st.entries.has(name)) {
          throw new UserError(`${WEIGHTS_INDEX_FILE} places tensor "${name}" in this shard, but it is not there`, {
            where: shardPath,
            fix: 'the checkpoint is incomplete or mixed from two exports; copy it again',
          });
        }
      }
      for (const [name, entry] of st.entries) {
        const seen = tensors.get(name);
        if (seen)
          throw new UserError(`tensor "${name}" appears in two shards (also ${seen.file})`, { where: shardPath });
        tensors.set(name, { entry, file: shardPath });
      }
    }
    return { tensors, where: index };
  }
  refuseOtherFormats(dir, architectures);
  throw new UserError(`no ${WEIGHTS_FILE} (or ${WEIGHTS_INDEX_FILE}) in the checkpoint folder`, {
    where: single,
    fix: 'point at a folder written by save_pretrained(), which holds config.json and model.safetensors',
  });
}

/** Pickled PyTorch and Keras weights are never read; say how to convert them. */
function refuseOtherFormats(dir: string, architectures: unknown): void {
  const isClassifier =
    Array.isArray(architectures) &&
    architectures.some((a) => typeof a === 'string' && a.endsWith('ForSequenceClassification'));
  const autoClass = isClassifier ? 'AutoModelForSequenceClassification' : 'AutoModel';
  const q = JSON.stringify(dir);
  const formats: Array<[string, string, string]> = [
    ['pytorch_model.bin', 'PyTorch pickle', ''],
    ['pytorch_model.bin.index.json', 'sharded PyTorch pickle', ''],
    ['tf_model.h5', 'TensorFlow/Keras H5', ', from_tf=True'],
    ['flax_model.msgpack', 'Flax msgpack', ', from_flax=True'],
  ];
  for (const [file, kind, fromArg] of formats) {
    const p = path.join(dir, file);
    if (!isFile(p)) continue;
    throw new UserError(
      `the weights are in ${kind} format (${file}); only ${WEIGHTS_FILE} is read, because loading pickled or framework-specific weights can run code from the file`,
      {
        where: p,
        fix:
          `convert it once with Python and transformers: python -c 'from transformers import ${autoClass}; ` +
          `model = ${autoClass}.from_pretrained(${q}${fromArg}); model.save_pretrained(${q}, safe_serialization=True)'`,
      },
    );
  }
}

/**
 * Wrappers around a BERT's own names: a SentenceTransformer's state_dict ('0.auto_model.'), its
 * Transformer module's ('auto_model.'), a model saved inside another ('model.'), DataParallel ('module.').
 */
const WRAPPER_PREFIX = /^(?:module\.|model\.|0\.auto_model\.|auto_model\.)+/;

/** The HF name transformers would use: wrapper prefixes dropped, 'bert.' prefix for encoder tensors, LayerNorm gamma/beta → weight/bias. */
function canonicalName(name: string): string {
  let n = name.replace(WRAPPER_PREFIX, '');
  if (n.startsWith('embeddings.') || n.startsWith('encoder.') || n.startsWith('pooler.')) n = ENCODER_PREFIX + n;
  if (n.includes('LayerNorm')) n = n.replace(/\.gamma$/, '.weight').replace(/\.beta$/, '.bias');
  return n;
}

/** Non-parameter buffers older transformers versions saved (position_ids, token_type_ids: integer index tensors). */
function isBuffer(name: string, entry: SafetensorsEntry, parameterNames: Map<string, unknown>): boolean {
  if (name.endsWith('.position_ids') || name.endsWith('embeddings.token_type_ids')) return true;
  // An integer tensor under a parameter's name is a broken weight, reported as an unsupported dtype.
  return entry.dtype === 'I64' && !parameterNames.has(name) && !/^bert\.encoder\.layer\.\d+\./.test(name);
}

const fmtShape = (s: readonly number[]) => `[${s.join(', ')}]`;

function listNames(names: string[], max = 6): string {
  const shown = names
    .slice(0, max)
    .map((n) => `"${n}"`)
    .join(', ');
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}

/** Layer indices 0..n as "0–3" for messages. */
function describeLayers(layers: number[]): string {
  if (layers.length === 0) return 'no encoder layers';
  const contiguous = layers.every((l, i) => l === i);
  return `${layers.length} layer${layers.length === 1 ? '' : 's'} (${contiguous ? `${layers[0]}–${layers[layers.length - 1]}` : layers.join(', ')})`;
}

/** The checkpoint folder (or its sentence-transformers Transformer subfolder), checked to be one. */
function openCheckpointFolder(given: string): { dir: string; note?: string } {
  const folder = resolveModelFolder(given);
  const dir = folder.dir;
  // A write of this folder killed between its two renames leaves it beside its path: put it back.
  // (A folder we may not write to is read as it is.)
  try {
    recoverDir(dir);
  } catch {
    // read-only: nothing to repair here
  }
  let dirStat: fs.Stats | undefined;
  try {
    dirStat = fs.statSync(dir);
  } catch {
    dirStat = undefined;
  }
  if (!dirStat)
    throw new UserError('the checkpoint folder does not exist', {
      where: dir,
      fix: 'check the path; a checkpoint is a folder with config.json and model.safetensors',
    });
  if (!dirStat.isDirectory()) {
    throw new UserError('a checkpoint must be a folder (with config.json and model.safetensors), not a file', {
      where: dir,
      fix: 'point at the folder that contains the file',
    });
  }
  return folder;
}

/** config.json, parsed; `architectures` says which model class the weights belong to. */
function readConfig(dir: string): { config: BertConfig; architectures: unknown } {
  const configFile = path.join(dir, CONFIG_FILE);
  if (!isFile(configFile)) {
    throw new UserError('the checkpoint folder has no config.json', {
      where: configFile,
      fix: "copy config.json from the model's export (save_pretrained writes it)",
    });
  }
  const rawConfig = readJson(configFile, CONFIG_FILE);
  return {
    config: parseHfConfig(rawConfig, configFile),
    architectures: (rawConfig as { architectures?: unknown }).architectures,
  };
}

type NamedRawTensor = RawTensor & { original: string };

/**
 * Canonical name → raw tensor. Pre-training heads, buffers and tensors the model does not have are
 * set aside; what was ignored or renamed goes to `notes`.
 */
function mapNames(raw: Map<string, RawTensor>, fileConfig: BertConfig, notes: string[]): Map<string, NamedRawTensor> {
  const byName = new Map<string, NamedRawTensor>();
  const pretrainingHead: string[] = [];
  const unknown: string[] = [];
  let renamedTf = 0;
  let unwrapped = 0;
  const known = expectedTensorShapes({ ...fileConfig, numHiddenLayers: 0 }, true);
  for (const [original, t] of raw) {
    const name = canonicalName(original);
    if (name.startsWith('cls.') || name.startsWith('bert.cls.')) {
      pretrainingHead.push(original);
      continue;
    }
    if (isBuffer(name, t.entry, known)) continue;
    if (!known.has(name) && !/^bert\.encoder\.layer\.\d+\./.test(name)) {
      unknown.push(original);
      continue;
    }
    const dup = byName.get(name);
    if (dup) {
      throw new UserError(`tensors "${dup.original}" and "${original}" are both "${name}"`, {
        where: t.file,
        fix: 'keep one of them (the checkpoint mixes prefixed and unprefixed names)',
      });
    }
    if (name !== original && /\.(gamma|beta)$/.test(original)) renamedTf++;
    if (WRAPPER_PREFIX.test(original)) unwrapped++;
    byName.set(name, { ...t, original });
  }
  if (pretrainingHead.length)
    notes.push(`ignored the pre-training heads (${pretrainingHead.length} cls.* tensors) in the checkpoint`);
  if (unwrapped)
    notes.push(
      `read ${unwrapped} tensors without their wrapper prefix (e.g. "${[...byName.values()].find((t) => WRAPPER_PREFIX.test(t.original))?.original}")`,
    );
  if (renamedTf) notes.push(`read ${renamedTf} TF-style LayerNorm gamma/beta tensors as weight/bias`);
  if (unknown.length)
    notes.push(
      `ignored ${unknown.length} tensors that BertForSequenceClassification does not have: ${listNames(unknown)}`,
    );
  return byName;
}

/** The layer count in config.json must match the weights. */
function checkLayerCount(byName: Map<string, NamedRawTensor>, fileConfig: BertConfig, where: string): void {
  const layers = [
    ...new Set(
      [...byName.keys()]
        .map((n) => /^bert\.encoder\.layer\.(\d+)\./.exec(n))
        .filter((m) => m !== null)
        .map((m) => Number(m[1])),
    ),
  ].sort((a, b) => a - b);
  const L = fileConfig.numHiddenLayers;
  if (layers.length !== L || layers.some((l, i) => l !== i)) {
    throw new UserError(
      `config.json says num_hidden_layers = ${L} but ${path.basename(where)} has weights for ${describeLayers(layers)}`,
      {
        where,
        fix: 'config.json and the weights come from different models; export them together, or correct num_hidden_layers',
      },
    );
  }
}

/** Both tensors of a pair or neither: true when both are there. */
function wholePair(byName: Map<string, NamedRawTensor>, names: string[], where: string): boolean {
  const present = names.filter((n) => byName.has(n));
  if (present.length === 1) {
    const missing = names.find((n) => !byName.has(n))!;
    throw new UserError(`the checkpoint has "${present[0]}" but not "${missing}"`, {
      where,
      fix: 'the checkpoint is incomplete; export it again',
    });
  }
  return present.length === 2;
}

/**
 * The classifier head: present (its size must agree with config.json and the task) or absent (a
 * new one is initialised). Returns the config with the task's labels.
 */
function resolveHead(
  byName: Map<string, NamedRawTensor>,
  fileConfig: BertConfig,
  opts: LoadOptions,
  where: string,
  notes: string[],
): { hasHead: boolean; config: BertConfig } {
  const hasHead = wholePair(byName, HEAD_NAMES, where);
  const wanted = opts.regression ? 1 : (opts.numLabels ?? opts.labels?.length);
  if (opts.labels && wanted !== undefined && opts.labels.length !== wanted) {
    throw new Error(`loadCheckpoint: ${opts.labels.length} labels given for ${wanted} outputs`);
  }
  let config: BertConfig = fileConfig;
  if (hasHead) {
    const w = byName.get('classifier.weight')!;
    const headOut = w.entry.shape[0];
    if (w.entry.shape.length === 2 && headOut !== fileConfig.numLabels) {
      throw new UserError(
        `config.json has ${fileConfig.numLabels} labels but the classifier in ${path.basename(w.file)} has ${headOut} outputs`,
        {
          where,
          fix: 'config.json and the weights come from different models; make id2label/num_labels in config.json match the classifier',
        },
      );
    }
    if (wanted !== undefined && wanted !== headOut) {
      throw new UserError(
        `the checkpoint's classifier has ${headOut} output${headOut === 1 ? '' : 's'} but the task needs ${wanted}` +
          `${opts.regression ? ' (regression)' : ''}`,
        {
          where,
          fix: `use a checkpoint fine-tuned for this task, or an encoder without a classifier head (e.g. bert-base-uncased) so that a new ${wanted}-output head is trained`,
        },
      );
    }
    if (opts.labels && opts.labels.join('\u0000') !== config.labels.join('\u0000')) {
      const generic = config.labels.every((l, i) => l === `LABEL_${i}`);
      if (!generic)
        notes.push(
          `config.json names the labels ${JSON.stringify(config.labels)}; using the task's names ${JSON.stringify(opts.labels)} in the same order`,
        );
      config = { ...config, labels: [...opts.labels] };
    }
  } else {
    if (wanted !== undefined) {
      const labels = opts.labels
        ? [...opts.labels]
        : config.labels.length === wanted
          ? config.labels
          : defaultLabels(wanted);
      config = {
        ...config,
        numLabels: wanted,
        labels,
        problemType: wanted === 1 ? 'regression' : 'single_label_classification',
      };
    }
    const kind = config.problemType === 'regression' ? 'regression head (1 output)' : `${config.numLabels}-class head`;
    notes.push(`no classifier head in ${path.basename(where)}: a freshly initialised ${kind} will be used`);
  }
  return { hasHead, config };
}

/**
 * Whether the encoder has its pooler. One without (BertForMaskedLM exports, sentence-transformers
 * models saved with add_pooling_layer=False) gets a new one, as transformers would initialise it,
 * trained with the head.
 */
function resolvePooler(
  byName: Map<string, NamedRawTensor>,
  hasHead: boolean,
  config: BertConfig,
  where: string,
  notes: string[],
): boolean {
  const hasPooler = wholePair(byName, POOLER_NAMES, where);
  if (!hasPooler && hasHead) {
    throw new UserError('the checkpoint has a classifier head but no pooler, whose output that head was trained on', {
      where,
      fix: 'export the whole BertForSequenceClassification again, or remove classifier.* to train a new head with a new pooler',
    });
  }
  if (!hasPooler)
    notes.push(
      `no pooler in ${path.basename(where)}: a freshly initialised one (normal, std ${config.initializerRange}) will be used and trained with the head`,
    );
  return hasPooler;
}

/** Every parameter, present with the shape config.json implies, as float32 (a missing pooler initialised). */
function buildTensors(
  byName: Map<string, NamedRawTensor>,
  config: BertConfig,
  hasHead: boolean,
  hasPooler: boolean,
  where: string,
): NamedTensors {
  const expected = expectedTensorShapes(config, hasHead);
  const missing = [...expected.keys()].filter((n) => !byName.has(n) && (hasPooler || !POOLER_NAMES.includes(n)));
  if (missing.length) {
    throw new UserError(
      `the checkpoint lacks ${missing.length} tensor${missing.length === 1 ? '' : 's'}: ${listNames(missing)}`,
      {
        where,
        fix: 'the checkpoint is incomplete or not a BERT encoder; export it again with save_pretrained()',
      },
    );
  }
  const tensors: NamedTensors = new Map();
  for (const [name, shape] of expected) {
    if (!hasPooler && POOLER_NAMES.includes(name)) {
      // Seeded by name alone: every load of this checkpoint gets the same pooler.
      const data = name.endsWith('.bias')
        ? new Float32Array(numel(shape))
        : seededNormal(numel(shape), config.initializerRange, 0, name);
      tensors.set(name, { shape: [...shape], data });
      continue;
    }
    const t = byName.get(name)!;
    const got = t.entry.shape;
    if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) {
      const alias = t.original !== name ? ` (stored as "${t.original}")` : '';
      throw new UserError(
        `tensor "${name}"${alias} has shape ${fmtShape(got)} but config.json implies ${fmtShape(shape)}`,
        {
          where: t.file,
          fix: 'config.json and the weights come from different models; export them together',
        },
      );
    }
    tensors.set(name, { shape: [...shape], data: toFloat32(t.entry, t.file) });
  }
  return tensors;
}

/** The tokenizer files beside the weights, and tokenizer_config.json's do_lower_case. */
function readTokenizerFiles(
  dir: string,
  notes: string[],
): Pick<LoadedCheckpoint, 'vocabFile' | 'tokenizerFile' | 'doLowerCase'> {
  const out: Pick<LoadedCheckpoint, 'vocabFile' | 'tokenizerFile' | 'doLowerCase'> = {};
  const vocab = path.join(dir, 'vocab.txt');
  const tokenizerJson = path.join(dir, 'tokenizer.json');
  if (isFile(vocab)) out.vocabFile = vocab;
  if (isFile(tokenizerJson)) out.tokenizerFile = tokenizerJson;
  const tokCfgFile = path.join(dir, 'tokenizer_config.json');
  if (isFile(tokCfgFile)) {
    try {
      const tc = JSON.parse(fs.readFileSync(tokCfgFile, 'utf8')) as { do_lower_case?: unknown };
      if (typeof tc.do_lower_case === 'boolean') out.doLowerCase = tc.do_lower_case;
    } catch {
      notes.push('tokenizer_config.json is not valid JSON; ignored it');
    }
  }
  return out;
}

export function loadCheckpoint(given: string, opts: LoadOptions = {}): LoadedCheckpoint {
  const folder = openCheckpointFolder(given);
  const dir = folder.dir;
  const { config: fileConfig, architectures } = readConfig(dir);
  const { tensors: raw, where } = readWeights(dir, architectures);
  const notes: string[] = folder.note ? [folder.note] : [];
  const byName = mapNames(raw, fileConfig, notes);
  checkLayerCount(byName, fileConfig, where);
  const { hasHead, config } = resolveHead(byName, fileConfig, opts, where, notes);
  const hasPooler = resolvePooler(byName, hasHead, config, where, notes);
  const tensors = buildTensors(byName, config, hasHead, hasPooler, where);
  const nonF32 = new Set([...byName.values()].map((t) => t.entry.dtype).filter((d) => d !== 'F32'));
  if (nonF32.size) notes.push(`converted ${[...nonF32].join('/')} weights to float32`);
  return { dir, config, tensors, hasHead, hasPooler, notes, ...readTokenizerFiles(dir, notes) };
}

/**
 * Writes a checkpoint that transformers loads as BertForSequenceClassification (or BertModel when
 * `tensors` has no classifier), atomically: readers see the old folder or the complete new one.
 */
export function saveCheckpoint(dir: string, config: BertConfig, tensors: NamedTensors, opts: SaveOptions = {}): void {
  const hasHead = tensors.has('classifier.weight');
  const expected = expectedTensorShapes(config, hasHead);
  for (const [name, shape] of expected) {
    const t = tensors.get(name);
    if (!t) throw new Error(`saveCheckpoint: tensor "${name}" is missing`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]) || t.data.length !== numel(shape)) {
      throw new Error(
        `saveCheckpoint: tensor "${name}" has shape ${fmtShape(t.shape)} (${t.data.length} values), expected ${fmtShape(shape)}`,
      );
    }
  }
  const extra = [...tensors.keys()].filter((n) => !expected.has(n));
  if (extra.length) throw new Error(`saveCheckpoint: unexpected tensors ${listNames(extra)}`);

  // BertModel.save_pretrained writes its parameters without the 'bert.' prefix; mirror it.
  const toWrite: NamedTensors = new Map();
  for (const [name, t] of tensors) toWrite.set(hasHead ? name : name.slice(ENCODER_PREFIX.length), t);
  const hf = toHfConfig(config, hasHead ? 'BertForSequenceClassification' : 'BertModel');
  if (opts.vocabFile && !isFile(opts.vocabFile)) {
    throw new UserError('the vocabulary file does not exist', { where: opts.vocabFile });
  }

  writeDirAtomic(dir, (tmp) => {
    writeFileAtomic(path.join(tmp, CONFIG_FILE), JSON.stringify(hf, null, 2) + '\n');
    writeFileAtomic(path.join(tmp, WEIGHTS_FILE), serializeSafetensors(toWrite, { format: 'pt' }));
    if (opts.vocabFile) {
      writeFileAtomic(path.join(tmp, 'vocab.txt'), fs.readFileSync(opts.vocabFile));
      const special = {
        cls_token: '[CLS]',
        mask_token: '[MASK]',
        pad_token: '[PAD]',
        sep_token: '[SEP]',
        unk_token: '[UNK]',
      };
      const tokenizerConfig = {
        ...special,
        clean_up_tokenization_spaces: true,
        do_basic_tokenize: true,
        do_lower_case: opts.tokenizerConfig?.doLowerCase ?? true,
        model_max_length: config.maxPositionEmbeddings,
        never_split: null,
        strip_accents: null,
        tokenize_chinese_chars: true,
        tokenizer_class: 'BertTokenizer',
      };
      writeFileAtomic(
        path.join(tmp, 'tokenizer_config.json'),
        JSON.stringify(sortKeys(tokenizerConfig), null, 2) + '\n',
      );
      writeFileAtomic(path.join(tmp, 'special_tokens_map.json'), JSON.stringify(special, null, 2) + '\n');
    }
  });
}

function sortKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
