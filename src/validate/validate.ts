/**
 * Config validation: syntax → JSON Schema → checks across fields and against the files the config
 * names (teacher config.json, data files). Every problem is reported, each with its path, source
 * range and, where one is obvious, a fix. Reads small JSON files and stats paths only, never
 * tensors, so the editor can run it on every keystroke.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BERT_BASE_DEFAULTS, BertConfig } from '../model/config';
import {
  bertParameterCount,
  evalMemory,
  formatBytes,
  largestBatchUnder,
  ModelSize,
  optimizerTransientBytes,
  stepMemory,
  usableHeapBytes,
} from '../model/memory-estimate';
import { resolveModelFolder } from '../model/model-folder';
import { findGlueTask, GLUE_TASK_NAMES, GLUE_TASKS, GlueTaskName } from '../data/tasks';
import { isUserError, UserError } from '../util/errors';
import { customFormatFromPath } from '../data/custom';
import {
  DEFAULTS,
  defaultCustomStageName,
  defaultEvalBatchSize,
  defaultHardLabelWeight,
  defaultMapping,
  defaultSelectBest,
  defaultStudentLayers,
} from '../config/defaults';
import { MAX_TOTAL_EPOCHS, MODEL_BOUNDS } from '../config/bounds';
import { ConfigDocument, ConfigProblem, JsonPath, pathToText } from '../config/parse';
import { closest, schemaProblems, schemaValidator } from '../config/schema';
import {
  Algorithm,
  AttentionKlHeads,
  BackendRequestName,
  CachePrecisionName,
  ColumnRef,
  DataFormat,
  EvalSplit,
  INTERNAL_ALGORITHMS,
  LayerPairSpec,
  MappingSpec,
  ResolvedArchitecture,
  ResolvedConfig,
  ResolvedCustomStage,
  ResolvedCustomTask,
  ResolvedLosses,
  ResolvedTeacher,
  SCHEDULE_KEYS,
  ScheduleConfig,
  ScheduleKey,
  StudentInit,
} from '../config/types';
import {
  INTERNAL_KEYS,
  LOSS_NAME_BY_KEY,
  PER_LAYER_KEYS,
  UNCACHED_KEYS,
  lossKeyOf,
  lossWeightField,
  type LossKey,
  type LossName,
} from '../config/loss-vocabulary';
import { builtInTrains, lossWeights, unweightedStageLoss } from '../distill/plan';
import type { Schedule } from '../distill/schedule';

/** Losses that work on mapped layer pairs (and so use a custom stage's `layers`). */
const PER_LAYER_LOSSES: readonly LossName[] = PER_LAYER_KEYS.map((k) => LOSS_NAME_BY_KEY[k]);

export interface ValidateOptions {
  /** Check that the folders and files the config names exist (default true). */
  checkFiles?: boolean;
}

export interface ValidationResult {
  /** Present when there are no errors (warnings allowed) and every default could be filled. */
  config?: ResolvedConfig;
  /** Sorted by position in the file. */
  problems: ConfigProblem[];
}

/** The architecture facts validation needs, read from a checkpoint's config.json or a scratch architecture. */
export interface ModelShape {
  layers: number;
  hiddenSize: number;
  heads: number;
  intermediateSize: number;
  maxPositions: number;
  /** Outputs of the classification head, when the checkpoint has one (id2label / num_labels). */
  numLabels?: number;
  /** vocab_size, when config.json gives it (for the memory estimate). */
  vocabSize?: number;
}

/** Reads the shape from a Hugging Face BERT config.json object; absent keys take BertConfig's defaults. */
export function shapeFromHfConfig(json: Record<string, unknown>): ModelShape {
  const int = (key: string, dflt: number): number => (typeof json[key] === 'number' ? (json[key] as number) : dflt);
  const id2label = json.id2label;
  const numLabels =
    id2label && typeof id2label === 'object'
      ? Object.keys(id2label).length
      : typeof json.num_labels === 'number'
        ? json.num_labels
        : undefined;
  return {
    layers: int('num_hidden_layers', BERT_BASE_DEFAULTS.numHiddenLayers),
    hiddenSize: int('hidden_size', BERT_BASE_DEFAULTS.hiddenSize),
    heads: int('num_attention_heads', BERT_BASE_DEFAULTS.numAttentionHeads),
    intermediateSize: int('intermediate_size', BERT_BASE_DEFAULTS.intermediateSize),
    maxPositions: int('max_position_embeddings', BERT_BASE_DEFAULTS.maxPositionEmbeddings),
    ...(numLabels !== undefined ? { numLabels } : {}),
    ...(typeof json.vocab_size === 'number' ? { vocabSize: json.vocab_size } : {}),
  };
}

export function validateConfig(text: string, file: string, opts: ValidateOptions = {}): ValidationResult {
  const doc = ConfigDocument.parse(text, file);
  if (doc.syntaxProblems.length > 0)
    return { problems: sortProblems([...doc.syntaxProblems, ...doc.duplicateKeyProblems]) };
  const fromSchema = schemaProblems(doc);
  const checker = new SemanticChecker(doc, fromSchema, opts.checkFiles ?? true);
  const draft = checker.run();
  const problems = sortProblems([...doc.duplicateKeyProblems, ...fromSchema, ...checker.problems]);
  if (problems.some((p) => p.severity === 'error') || !draft) return { problems };
  // The resolved config must itself be a valid config; anything else is a bug here, not in the file.
  if (!schemaValidator()(draft)) {
    throw new Error(
      `internal error: the resolved config does not match the schema: ${JSON.stringify(schemaValidator().errors)}`,
    );
  }
  return { config: draft, problems };
}

/** Resolves a config text, throwing a UserError that lists every error when it has any. */
export function resolveConfig(
  text: string,
  file: string,
  opts: ValidateOptions & { onWarning?: (p: ConfigProblem) => void } = {},
): ResolvedConfig {
  const { config, problems } = validateConfig(text, file, opts);
  const errors = problems.filter((p) => p.severity === 'error');
  for (const w of problems.filter((p) => p.severity === 'warning')) opts.onWarning?.(w);
  if (errors.length > 0 || !config) {
    const lines = (errors.length ? errors : problems).map((p) => `  ${formatProblem(file, p)}`);
    const n = errors.length;
    throw new UserError(
      n > 0
        ? `the config has ${n} error${n === 1 ? '' : 's'}:\n${lines.join('\n')}`
        : `the config could not be resolved:\n${lines.join('\n')}`,
      // Each line already carries its fix.
      { where: file },
    );
  }
  return config;
}

/** Reads and resolves a config file (see resolveConfig). */
export function loadConfigFile(file: string, opts: { onWarning?: (p: ConfigProblem) => void } = {}): ResolvedConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new UserError(missing ? 'config file not found' : `cannot read the config file (${(e as Error).message})`, {
      where: file,
      fix: missing ? 'check the path; configs are usually named <something>.distill.json' : undefined,
    });
  }
  return resolveConfig(text, file, opts);
}

/** `file:line:col: message (fix: …)`, as the CLI prints a problem. */
export function formatProblem(file: string, p: ConfigProblem): string {
  const at = p.range ? `${file}:${p.range.line}:${p.range.column}` : file;
  const sev = p.severity === 'warning' ? 'warning: ' : '';
  return `${at}: ${sev}${p.message}${p.fix ? ` (fix: ${p.fix})` : ''}`;
}

function sortProblems(problems: ConfigProblem[]): ConfigProblem[] {
  return problems
    .map((p, i) => ({ p, i }))
    .sort((a, b) => (a.p.range?.offset ?? 0) - (b.p.range?.offset ?? 0) || a.i - b.i)
    .map((x) => x.p);
}

// ---------------------------------------------------------------------------------------------

/** The config.json sizes validation reads, and their bounds. */
const HF_SHAPE_BOUNDS: ReadonlyArray<readonly [string, number]> = [
  ['num_hidden_layers', MODEL_BOUNDS.layers],
  ['hidden_size', MODEL_BOUNDS.hiddenSize],
  ['num_attention_heads', MODEL_BOUNDS.heads],
  ['intermediate_size', MODEL_BOUNDS.intermediateSize],
  ['max_position_embeddings', MODEL_BOUNDS.maxPositions],
  ['num_labels', MODEL_BOUNDS.labels],
  ['vocab_size', MODEL_BOUNDS.vocabSize],
];

function isPrefix(a: readonly (string | number)[], b: readonly (string | number)[]): boolean {
  return a.length <= b.length && a.every((s, i) => s === b[i]);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function list(xs: readonly (string | number)[]): string {
  return xs.length <= 1 ? xs.join('') : `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1]}`;
}

/** Head counts that divide `hidden`, for the fix of a hidden/heads mismatch. */
function headChoices(hidden: number): number[] {
  const out: number[] = [];
  for (let h = 1; h <= Math.min(hidden, 32); h++) if (hidden % h === 0) out.push(h);
  return out.slice(-4);
}

interface Draft {
  task?: { name?: GlueTaskName | 'custom'; maxSeqLen?: number; labelCount?: number };
  teacherShape?: ModelShape;
  studentShape?: { layers?: number; hiddenSize?: number; heads?: number; intermediateSize?: number };
  mapping?: MappingSpec;
  algorithm?: Algorithm;
}

/**
 * The checks across fields. Values that failed the schema read as unknown (undefined) so that one
 * mistake is reported once and does not cascade into checks built on it.
 */
class SemanticChecker {
  readonly problems: ConfigProblem[] = [];
  private readonly dir: string;

  constructor(
    private readonly doc: ConfigDocument,
    private readonly schemaIssues: ConfigProblem[],
    private readonly checkFiles: boolean,
  ) {
    this.dir = path.dirname(path.resolve(doc.file));
  }

  private error(p: JsonPath, message: string, fix?: string): void {
    this.problems.push(this.doc.problem(p, message, { fix }));
  }

  private warn(p: JsonPath, message: string, fix?: string): void {
    this.problems.push(this.doc.problem(p, message, { fix, severity: 'warning' }));
  }

  private get errorCount(): number {
    return this.problems.filter((p) => p.severity === 'error').length;
  }

  /** The raw value at `p`, or undefined. */
  private raw(p: JsonPath): unknown {
    let cur: unknown = this.doc.value;
    for (const seg of p) {
      if (cur === null || typeof cur !== 'object') return undefined;
      cur = (cur as Record<string | number, unknown>)[seg];
    }
    return cur;
  }

  private written(p: JsonPath): boolean {
    return this.raw(p) !== undefined;
  }

  /** Written with a value other than its default: a setting the user meant to change. */
  private changed(p: JsonPath, dflt: unknown): boolean {
    const v = this.raw(p);
    return v !== undefined && v !== dflt;
  }

  /** Whether the schema found something wrong at, above or below `p`. */
  private invalid(p: JsonPath): boolean {
    return this.schemaIssues.some((s) => s.severity === 'error' && (isPrefix(s.path, p) || isPrefix(p, s.path)));
  }

  /** The schema-checked value at `p`: `dflt` when absent, undefined when the schema rejected it. */
  private val<T>(p: JsonPath, dflt: T): T | undefined;
  private val<T>(p: JsonPath): T | undefined;
  private val<T>(p: JsonPath, dflt?: T): T | undefined {
    if (this.invalid(p)) return undefined;
    const v = this.raw(p);
    return v === undefined ? dflt : (v as T);
  }

  private abs(p: string): string {
    return path.resolve(this.dir, p);
  }

  /** A path as the user would write it in this config: relative to the config's folder when inside it. */
  private rel(p: string): string {
    const r = path.relative(this.dir, p);
    return r && !r.startsWith('..') && !path.isAbsolute(r) ? r.split(path.sep).join('/') : p;
  }

  // ---- files --------------------------------------------------------------------------------

  private stat(p: string): fs.Stats | undefined {
    try {
      return fs.statSync(p);
    } catch {
      return undefined;
    }
  }

  /** Checks a folder exists (when file checks are on); false when it is known to be missing. */
  private checkDir(at: JsonPath, dir: string, what: string): boolean {
    if (!this.checkFiles) return true;
    const st = this.stat(dir);
    if (!st) {
      this.error(
        at,
        `${what} not found: ${dir}`,
        `check the path; relative paths start at the config's folder (${this.dir})`,
      );
      return false;
    }
    if (!st.isDirectory()) {
      this.error(at, `${what} must be a folder, but ${dir} is a file`, 'point it at the folder that holds the file');
      return false;
    }
    return true;
  }

  /**
   * Reads a Hugging Face checkpoint folder's shape, checking (when file checks are on) that it
   * holds config.json, model.safetensors and, if `needsVocab`, vocab.txt.
   */
  private readCheckpoint(at: JsonPath, given: string, what: string, needsVocab: boolean): ModelShape | undefined {
    if (!this.checkDir(at, given, what)) return undefined;
    // A sentence-transformers root: its BERT (config.json, weights, vocab.txt) may be in a subfolder.
    let dir = given;
    try {
      dir = resolveModelFolder(given).dir;
    } catch (e) {
      if (!isUserError(e)) throw e;
      this.error(at, e.message, e.fix ?? 'point at the folder that holds config.json');
      return undefined;
    }
    const configFile = path.join(dir, 'config.json');
    let shape: ModelShape | undefined;
    let text: string | undefined;
    try {
      text = fs.readFileSync(configFile, 'utf8');
    } catch {
      if (this.checkFiles)
        this.error(
          at,
          `${what} ${dir} has no config.json`,
          'use a Hugging Face model folder (config.json, model.safetensors, vocab.txt)',
        );
    }
    if (text !== undefined) {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (e) {
        this.error(
          at,
          `${configFile} is not valid JSON (${(e as Error).message})`,
          "repair or re-export the checkpoint's config.json",
        );
      }
      if (json && typeof json === 'object' && !Array.isArray(json)) {
        const obj = json as Record<string, unknown>;
        if (typeof obj.model_type === 'string' && obj.model_type !== 'bert') {
          this.error(
            at,
            `${what} is a '${obj.model_type}' model; Distillery distils BERT models (model_type "bert")`,
            'use a BERT checkpoint',
          );
        } else if (this.shapeInBounds(at, configFile, obj)) {
          shape = shapeFromHfConfig(obj);
        }
      } else if (json !== undefined) {
        this.error(at, `${configFile} must hold a JSON object`, "repair or re-export the checkpoint's config.json");
      }
    }
    if (this.checkFiles) {
      const has = (name: string): boolean => !!this.stat(path.join(dir, name))?.isFile();
      if (!has('model.safetensors')) {
        const other = ['pytorch_model.bin', 'tf_model.h5'].find(has);
        if (other) {
          const bin = path.join(dir, 'pytorch_model.bin');
          const out = path.join(dir, 'model.safetensors');
          this.error(
            at,
            `${what} ${dir} has ${other} but no model.safetensors; Distillery reads safetensors only`,
            other === 'pytorch_model.bin'
              ? `convert it: python -c "import torch; from safetensors.torch import save_file; sd = torch.load('${bin}', map_location='cpu'); save_file({k: v.clone().contiguous() for k, v in sd.items()}, '${out}', metadata={'format': 'pt'})" (needs the torch and safetensors Python packages)`
              : 'load it with transformers (from_pretrained(dir, from_tf=True)) and save it with save_pretrained(dir, safe_serialization=True)',
          );
        } else {
          this.error(
            at,
            `${what} ${dir} has no model.safetensors`,
            'use a Hugging Face model folder saved with safe_serialization (model.safetensors)',
          );
        }
      }
      if (needsVocab && !has('vocab.txt')) {
        this.error(
          at,
          `${what} ${dir} has no vocab.txt (the WordPiece vocabulary its tokenizer needs)`,
          'copy the vocab.txt of the model it was trained from into the folder',
        );
      }
    }
    return shape;
  }

  /**
   * A checkpoint's sizes must be whole numbers within MODEL_BOUNDS, as the checkpoint reader
   * requires: later checks build layer lists and step counts from them.
   */
  private shapeInBounds(at: JsonPath, configFile: string, obj: Record<string, unknown>): boolean {
    let ok = true;
    for (const [key, max] of HF_SHAPE_BOUNDS) {
      const v = obj[key];
      if (v === undefined || v === null) continue;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
        this.error(
          at,
          `${configFile}: ${key} must be a whole number from 1 to ${max}, not ${JSON.stringify(v)}`,
          `repair the checkpoint's config.json (${key} ≤ ${max}), or use another checkpoint`,
        );
        ok = false;
      }
    }
    return ok;
  }

  // ---- sections -----------------------------------------------------------------------------

  run(): ResolvedConfig | undefined {
    const draft: Draft = {};
    const task = this.task(draft);
    const teacher = this.teacher(draft);
    this.maxSeqLenFits(draft);
    const student = this.student(draft);
    const algorithm = this.val<Algorithm>(['algorithm']);
    draft.algorithm = algorithm;
    const mapping = this.mapping(draft);
    const losses = this.losses(algorithm);
    const stages = this.stages(draft, algorithm, losses);
    this.planChecks(draft, algorithm, losses, stages);
    this.totalEpochs(draft, algorithm, stages, teacher);
    const optim = this.optim();
    const evalBatch =
      this.val<number>(['eval', 'batchSize']) ??
      (optim.batchSize !== undefined ? defaultEvalBatchSize(optim.batchSize) : undefined);
    const evalEvery = this.val<number>(['eval', 'everySteps']);
    const ckptEvery = this.val<number>(['checkpoint', 'everySteps']);
    const keep = this.val<number>(['checkpoint', 'keep'], DEFAULTS.checkpoint.keep);
    const teacherCache = {
      enabled: this.val<boolean>(['teacherCache', 'enabled'], DEFAULTS.teacherCache.enabled),
      maxMiB: this.val<number>(['teacherCache', 'maxMiB'], DEFAULTS.teacherCache.maxMiB),
      attentionPrecision: this.val<CachePrecisionName>(
        ['teacherCache', 'attentionPrecision'],
        DEFAULTS.teacherCache.attentionPrecision,
      ),
    };
    const backend = this.val<BackendRequestName>(['backend'], DEFAULTS.backend);
    const runsDirRaw = this.val<string>(['runsDir'], DEFAULTS.runsDir);
    const runsDir = runsDirRaw !== undefined ? this.abs(runsDirRaw) : undefined;
    if (runsDir && this.checkFiles && this.stat(runsDir)?.isFile()) {
      this.error(
        ['runsDir'],
        `runsDir ${runsDir} is a file, not a folder`,
        'point runsDir at a folder (it is created if missing)',
      );
    }
    const name = this.val<string>(['name']);
    if (
      backend === 'wasm' &&
      this.errorCount === 0 &&
      student &&
      optim.batchSize !== undefined &&
      evalBatch !== undefined
    ) {
      this.wasmHeap(draft, teacher, student, optim.batchSize, evalBatch);
    }

    if (this.errorCount > 0) return undefined;
    if (
      !task ||
      !teacher ||
      !student ||
      !mapping ||
      !algorithm ||
      !losses ||
      !stages ||
      !optim.complete ||
      evalBatch === undefined ||
      keep === undefined ||
      !backend ||
      !runsDir ||
      teacherCache.enabled === undefined ||
      teacherCache.maxMiB === undefined ||
      teacherCache.attentionPrecision === undefined
    ) {
      // Only reachable without errors when file checks are off and the teacher's shape is unknown.
      return undefined;
    }
    const config: ResolvedConfig = {
      ...(name !== undefined ? { name } : {}),
      task,
      teacher,
      student,
      mapping,
      algorithm,
      losses,
      stages,
      optim: optim.complete,
      eval: { ...(evalEvery !== undefined ? { everySteps: evalEvery } : {}), batchSize: evalBatch },
      checkpoint: { ...(ckptEvery !== undefined ? { everySteps: ckptEvery } : {}), keep },
      teacherCache: {
        enabled: teacherCache.enabled,
        maxMiB: teacherCache.maxMiB,
        attentionPrecision: teacherCache.attentionPrecision,
      },
      backend,
      runsDir,
    };
    return config;
  }

  private task(draft: Draft): ResolvedConfig['task'] | undefined {
    const rawName = this.val<string>(['task', 'name']);
    const maxSeqLen = this.val<number>(['task', 'maxSeqLen'], DEFAULTS.task.maxSeqLen);
    const trainFraction = this.val<number>(['task', 'trainFraction'], DEFAULTS.task.trainFraction);
    const evalSplit = this.val<EvalSplit>(['task', 'evalSplit'], DEFAULTS.task.evalSplit);
    draft.task = { maxSeqLen };
    if (rawName === undefined) return undefined;

    let name: GlueTaskName | 'custom' | undefined;
    if (rawName.toLowerCase() === 'custom') name = 'custom';
    else name = findGlueTask(rawName)?.name;
    if (!name) {
      const candidates = [...GLUE_TASK_NAMES, 'custom', ...Object.values(GLUE_TASKS).map((t) => t.dirName)];
      const near = closest(rawName, candidates);
      const guess = near && near !== 'custom' ? findGlueTask(near)?.name : near;
      this.error(
        ['task', 'name'],
        `unknown task '${rawName}'${guess ? ` (did you mean '${guess}'?)` : ''}`,
        `use one of ${GLUE_TASK_NAMES.join(', ')}, or "custom" with task.custom`,
      );
      return undefined;
    }
    draft.task.name = name;

    if (name === 'custom') {
      if (this.written(['task', 'dataDir'])) {
        this.warn(
          ['task', 'dataDir'],
          "task.dataDir is not used by custom tasks; task.custom.train and .dev are resolved against the config's folder",
          'remove task.dataDir',
        );
      }
      if (evalSplit === 'dev_mismatched')
        this.error(
          ['task', 'evalSplit'],
          'dev_mismatched is an MNLI split; a custom task evaluates on task.custom.dev',
          'remove task.evalSplit',
        );
      if (!this.written(['task', 'custom'])) {
        this.error(
          ['task', 'custom'],
          'a custom task needs task.custom (its files and columns)',
          'add "custom": { "train": "train.tsv", "dev": "dev.tsv", "textA": "sentence", "label": "label" }',
        );
        return undefined;
      }
      const custom = this.customTask();
      if (custom) draft.task.labelCount = custom.regression ? 1 : custom.labels?.length;
      if (!custom || maxSeqLen === undefined || trainFraction === undefined || evalSplit === undefined)
        return undefined;
      return { name, maxSeqLen, trainFraction, evalSplit, custom };
    }

    const spec = GLUE_TASKS[name];
    draft.task.labelCount = spec.isRegression ? 1 : spec.labels.length;
    if (this.written(['task', 'custom'])) {
      this.error(
        ['task', 'custom'],
        `task.custom is only used when task.name is "custom" (this task is '${name}')`,
        'remove task.custom, or set task.name to "custom"',
      );
    }
    if (evalSplit === 'dev_mismatched' && name !== 'mnli') {
      this.error(
        ['task', 'evalSplit'],
        `dev_mismatched is an MNLI split; '${name}' has only dev`,
        'remove task.evalSplit',
      );
    }
    const dataDirRaw = this.val<string>(['task', 'dataDir']);
    if (!this.written(['task', 'dataDir'])) {
      this.error(
        ['task', 'dataDir'],
        `task '${name}' needs task.dataDir, the folder holding ${spec.files.train} and ${spec.files.dev}`,
        `add "dataDir": "data/glue/${spec.dirName}"`,
      );
      return undefined;
    }
    if (dataDirRaw === undefined) return undefined;
    const dataDir = this.abs(dataDirRaw);
    if (this.checkDir(['task', 'dataDir'], dataDir, 'task.dataDir')) this.glueFiles(name, dataDir, evalSplit);
    if (maxSeqLen === undefined || trainFraction === undefined || evalSplit === undefined) return undefined;
    return { name, dataDir, maxSeqLen, trainFraction, evalSplit };
  }

  private glueFiles(name: GlueTaskName, dataDir: string, evalSplit: EvalSplit | undefined): void {
    if (!this.checkFiles) return;
    const spec = GLUE_TASKS[name];
    const needed = [spec.files.train, evalSplit ? spec.files[evalSplit] : undefined].filter((f): f is string => !!f);
    const missing = needed.filter((f) => !this.stat(path.join(dataDir, f))?.isFile());
    if (missing.length === 0) return;
    // A common slip: pointing at the GLUE root rather than the task's folder.
    const nested = path.join(dataDir, spec.dirName);
    const nestedOk = needed.every((f) => this.stat(path.join(nested, f))?.isFile());
    this.error(
      ['task', 'dataDir'],
      `task.dataDir ${dataDir} has no ${list(missing)} (the '${name}' ${missing.length === 1 ? 'file' : 'files'})`,
      nestedOk
        ? `set "dataDir": ${JSON.stringify(this.rel(nested))}`
        : `point task.dataDir at the GLUE ${spec.dirName} folder`,
    );
  }

  private customTask(): ResolvedCustomTask | undefined {
    const base: JsonPath = ['task', 'custom'];
    const train = this.val<string>([...base, 'train']);
    const dev = this.val<string>([...base, 'dev']);
    const textA = this.val<ColumnRef>([...base, 'textA']);
    const textB = this.val<ColumnRef>([...base, 'textB']);
    const label = this.val<ColumnRef>([...base, 'label']);
    const labels = this.val<string[]>([...base, 'labels']);
    const regression = this.val<boolean>([...base, 'regression'], DEFAULTS.customTask.regression);
    let format = this.val<DataFormat>([...base, 'format']);
    const trainAbs = train !== undefined ? this.abs(train) : undefined;
    const devAbs = dev !== undefined ? this.abs(dev) : undefined;
    for (const [key, file] of [
      ['train', trainAbs],
      ['dev', devAbs],
    ] as const) {
      if (!file || !this.checkFiles) continue;
      const st = this.stat(file);
      if (!st)
        this.error(
          [...base, key],
          `task.custom.${key} not found: ${file}`,
          `check the path; relative paths start at the config's folder (${this.dir})`,
        );
      else if (!st.isFile()) this.error([...base, key], `task.custom.${key} must be a file, but ${file} is a folder`);
    }
    if (!this.written([...base, 'format']) && trainAbs) {
      // The data reader's own rule, so the two never disagree.
      try {
        format = customFormatFromPath(trainAbs);
      } catch (e) {
        if (!isUserError(e)) throw e;
        this.error(
          [...base, 'format'],
          `cannot tell the format of ${path.basename(trainAbs)} from its extension`,
          'add "format": "csv" (or "tsv", "jsonl"), or rename the file',
        );
      }
    }
    if (regression && labels)
      this.error(
        [...base, 'labels'],
        'a regression task has no class names',
        'remove labels, or set regression to false',
      );
    if (!trainAbs || !devAbs || !format || textA === undefined || label === undefined || regression === undefined)
      return undefined;
    if (this.invalid([...base, 'textB']) || this.invalid([...base, 'labels'])) return undefined;
    return {
      train: trainAbs,
      dev: devAbs,
      format,
      textA,
      ...(textB !== undefined ? { textB } : {}),
      label,
      ...(labels !== undefined ? { labels } : {}),
      regression,
    };
  }

  private teacher(draft: Draft): ResolvedTeacher | undefined {
    if (this.invalid(['teacher']) && !this.written(['teacher'])) return undefined;
    const hasCheckpoint = this.written(['teacher', 'checkpoint']);
    const hasTrain = this.written(['teacher', 'train']);
    const raw = this.raw(['teacher']);
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
    if (!hasCheckpoint && !hasTrain) {
      // An unknown field here is most likely a misspelt checkpoint/train, already reported.
      if (this.schemaIssues.some((s) => s.path.length === 2 && s.path[0] === 'teacher')) return undefined;
      this.error(
        ['teacher', 'checkpoint'],
        'the teacher needs either "checkpoint" (a fine-tuned BERT folder) or "train" (train one first)',
        'add "checkpoint": "<fine-tuned BERT folder>", or "train": { "from": "<base BERT folder>", "epochs": 3 }',
      );
      return undefined;
    }
    if (hasCheckpoint && hasTrain) {
      this.error(
        ['teacher', 'train'],
        'give either teacher.checkpoint or teacher.train, not both',
        'remove teacher.train to use the checkpoint as it is, or remove teacher.checkpoint',
      );
      return undefined;
    }
    if (hasCheckpoint) {
      if (this.written(['teacher', 'output'])) {
        this.error(
          ['teacher', 'output'],
          'teacher.output is only used when the run trains the teacher (teacher.train)',
          'remove teacher.output',
        );
      }
      const dirRaw = this.val<string>(['teacher', 'checkpoint']);
      if (dirRaw === undefined) return undefined;
      const dir = this.abs(dirRaw);
      draft.teacherShape = this.readCheckpoint(['teacher', 'checkpoint'], dir, 'the teacher checkpoint', true);
      this.teacherLabels(draft);
      return { checkpoint: dir };
    }

    const base: JsonPath = ['teacher', 'train'];
    const from = this.val<string>([...base, 'from']);
    const epochs = this.val<number>([...base, 'epochs']);
    const lr = this.val<number>([...base, 'lr']) ?? this.val<number>(['optim', 'lr'], DEFAULTS.optim.lr);
    const batchSize =
      this.val<number>([...base, 'batchSize']) ?? this.val<number>(['optim', 'batchSize'], DEFAULTS.optim.batchSize);
    const outputRaw = this.val<string>(['teacher', 'output']);
    if (this.invalid(['teacher', 'output'])) return undefined;
    const output = outputRaw !== undefined ? { output: this.abs(outputRaw) } : {};
    if (from === undefined) return undefined;

    if (from === 'scratch') {
      const archPath: JsonPath = [...base, 'architecture'];
      if (!this.written(archPath)) {
        this.error(
          archPath,
          'a teacher trained from scratch needs teacher.train.architecture',
          'add "architecture": { "layers": 4, "hiddenSize": 256, "heads": 4, "intermediateSize": 1024 }',
        );
        return undefined;
      }
      const arch: Partial<ResolvedArchitecture> = {
        layers: this.val<number>([...archPath, 'layers']),
        hiddenSize: this.val<number>([...archPath, 'hiddenSize']),
        heads: this.val<number>([...archPath, 'heads']),
        intermediateSize: this.val<number>([...archPath, 'intermediateSize']),
        maxPositions: this.val<number>([...archPath, 'maxPositions'], DEFAULTS.architecture.maxPositions),
      };
      if (arch.hiddenSize !== undefined && arch.heads !== undefined && arch.hiddenSize % arch.heads !== 0) {
        this.error(
          [...archPath, 'heads'],
          `hiddenSize ${arch.hiddenSize} is not divisible by heads ${arch.heads}`,
          `use heads that divide ${arch.hiddenSize} (e.g. ${list(headChoices(arch.hiddenSize))})`,
        );
      }
      const vocabRaw = this.val<string>([...base, 'vocab']);
      if (this.invalid([...base, 'vocab'])) return undefined;
      const vocab = vocabRaw !== undefined ? this.abs(vocabRaw) : undefined;
      if (vocab && this.checkFiles && !this.stat(vocab)?.isFile()) {
        this.error(
          [...base, 'vocab'],
          `vocab file not found: ${vocab}`,
          'point it at a WordPiece vocab.txt (one token per line), or remove it to build one from the training text',
        );
      }
      const { layers, hiddenSize, heads, intermediateSize, maxPositions } = arch;
      if (
        layers === undefined ||
        hiddenSize === undefined ||
        heads === undefined ||
        intermediateSize === undefined ||
        maxPositions === undefined
      )
        return undefined;
      const architecture: ResolvedArchitecture = { layers, hiddenSize, heads, intermediateSize, maxPositions };
      draft.teacherShape = { ...architecture };
      if (epochs === undefined || lr === undefined || batchSize === undefined) return undefined;
      return {
        train: { from: 'scratch', architecture, ...(vocab ? { vocab } : {}), epochs, lr, batchSize },
        ...output,
      };
    }

    if (this.written([...base, 'architecture'])) {
      this.error(
        [...base, 'architecture'],
        "the architecture of a fine-tuned teacher comes from its base checkpoint's config.json",
        'remove architecture, or set "from": "scratch"',
      );
    }
    if (this.written([...base, 'vocab'])) {
      this.error([...base, 'vocab'], "fine-tuning uses the base checkpoint's own vocab.txt", 'remove vocab');
    }
    const fromDir = this.abs(from);
    draft.teacherShape = this.readCheckpoint([...base, 'from'], fromDir, 'the base checkpoint', true);
    if (epochs === undefined || lr === undefined || batchSize === undefined) return undefined;
    return { train: { from: fromDir, epochs, lr, batchSize }, ...output };
  }

  /** A fine-tuned teacher's head must fit the task. */
  private teacherLabels(draft: Draft): void {
    const have = draft.teacherShape?.numLabels;
    const want = draft.task?.labelCount;
    if (have === undefined || want === undefined || have === want) return;
    const taskName = draft.task?.name === 'custom' ? 'the custom task' : `task '${draft.task?.name}'`;
    this.error(
      ['teacher', 'checkpoint'],
      `the teacher's head has ${plural(have, 'output')} (config.json id2label/num_labels), but ${taskName} needs ${want}`,
      'use a teacher fine-tuned on this task, or fine-tune one with teacher.train',
    );
  }

  private maxSeqLenFits(draft: Draft): void {
    const len = draft.task?.maxSeqLen;
    const max = draft.teacherShape?.maxPositions;
    if (len === undefined || max === undefined || len <= max) return;
    this.error(
      ['task', 'maxSeqLen'],
      `task.maxSeqLen ${len} is longer than the teacher's ${max} position embeddings`,
      `set "maxSeqLen" to at most ${max}`,
    );
  }

  private student(draft: Draft): ResolvedConfig['student'] | undefined {
    const base: JsonPath = ['student'];
    const t = draft.teacherShape;
    const init = this.val<StudentInit>([...base, 'init'], DEFAULTS.student.init);
    let initShape: ModelShape | undefined;
    let resolvedInit: StudentInit | undefined = init;
    if (init !== undefined && typeof init === 'object') {
      const dir = this.abs(init.checkpoint);
      resolvedInit = { checkpoint: dir };
      initShape = this.readCheckpoint([...base, 'init', 'checkpoint'], dir, 'the student init checkpoint', false);
    }
    const from = initShape ?? t;
    const explicit = {
      layers: this.val<number>([...base, 'layers']),
      hiddenSize: this.val<number>([...base, 'hiddenSize']),
      heads: this.val<number>([...base, 'heads']),
      intermediateSize: this.val<number>([...base, 'intermediateSize']),
    };
    const bad = (k: keyof typeof explicit): boolean => this.invalid([...base, k]);
    const layers = bad('layers')
      ? undefined
      : (explicit.layers ?? initShape?.layers ?? (t ? defaultStudentLayers(t.layers) : undefined));
    const hiddenSize = bad('hiddenSize') ? undefined : (explicit.hiddenSize ?? from?.hiddenSize);
    const heads = bad('heads') ? undefined : (explicit.heads ?? from?.heads);
    const intermediateSize = bad('intermediateSize')
      ? undefined
      : (explicit.intermediateSize ?? from?.intermediateSize);
    draft.studentShape = { layers, hiddenSize, heads, intermediateSize };

    if (initShape) {
      for (const k of ['layers', 'hiddenSize', 'heads', 'intermediateSize'] as const) {
        const v = explicit[k];
        if (v !== undefined && v !== initShape[k]) {
          this.error(
            [...base, k],
            `student.${k} is ${v}, but the init checkpoint has ${initShape[k]}`,
            `remove student.${k}, or use a checkpoint with ${k} ${v}`,
          );
        }
      }
    }
    if (t && layers !== undefined && layers > t.layers) {
      this.error(
        [...base, 'layers'],
        `the student has ${plural(layers, 'layer')} but the teacher only ${t.layers}`,
        `set student.layers to at most ${t.layers}`,
      );
    }
    if (hiddenSize !== undefined && heads !== undefined && hiddenSize % heads !== 0) {
      const at: JsonPath =
        this.written([...base, 'heads']) || !this.written([...base, 'hiddenSize'])
          ? [...base, 'heads']
          : [...base, 'hiddenSize'];
      this.error(
        at,
        `the student's hiddenSize ${hiddenSize} is not divisible by its ${plural(heads, 'head')}`,
        `use heads that divide ${hiddenSize} (e.g. ${list(headChoices(hiddenSize))})`,
      );
    }
    if (init === 'teacher-layers' && t) {
      for (const k of ['hiddenSize', 'heads', 'intermediateSize'] as const) {
        const v = draft.studentShape[k];
        if (v !== undefined && v !== t[k]) {
          this.error(
            [...base, k],
            `init "teacher-layers" copies teacher weights, so student.${k} must be the teacher's ${t[k]}, not ${v}`,
            `remove student.${k}, or set student.init to "random"`,
          );
        }
      }
    }
    if (
      layers === undefined ||
      hiddenSize === undefined ||
      heads === undefined ||
      intermediateSize === undefined ||
      resolvedInit === undefined
    ) {
      if (!t && !this.checkFiles && this.errorCount === 0) {
        this.warn(
          this.written(['teacher', 'checkpoint']) ? ['teacher', 'checkpoint'] : ['teacher'],
          "the teacher's config.json could not be read (file checks are off), so the student's sizes and the layer checks are unknown",
        );
      }
      return undefined;
    }
    return { layers, hiddenSize, heads, intermediateSize, init: resolvedInit };
  }

  private mapping(draft: Draft): MappingSpec | undefined {
    const spec = this.val<MappingSpec>(['mapping']);
    const ls = draft.studentShape?.layers;
    const lt = draft.teacherShape?.layers;
    if (this.invalid(['mapping'])) return undefined;
    if (ls === undefined || lt === undefined) return spec;
    const resolved = spec ?? defaultMapping(ls, lt);
    draft.mapping = resolved;
    if (resolved === 'every-other' && lt !== 2 * ls) {
      const fix = lt % 2 === 0 ? `use "uniform", or set student.layers to ${lt / 2}` : 'use "uniform" or "last-layers"';
      this.error(
        ['mapping'],
        `"every-other" needs a teacher twice as deep as the student (teacher ${lt} layers, student ${ls})`,
        fix,
      );
    }
    if (Array.isArray(resolved)) this.checkPairs(resolved, ls, lt);
    return resolved;
  }

  private checkPairs(pairs: LayerPairSpec[], ls: number, lt: number): void {
    const firstSeen = new Map<number, number>();
    let prev: LayerPairSpec | undefined;
    pairs.forEach(([s, t], i) => {
      let ok = true;
      if (s > ls) {
        this.error(
          ['mapping', i, 0],
          `student layer ${s} is out of range: the student has ${plural(ls, 'layer')}`,
          `use a student layer from 1 to ${ls}`,
        );
        ok = false;
      }
      if (t > lt) {
        this.error(
          ['mapping', i, 1],
          `teacher layer ${t} is out of range: the teacher has ${plural(lt, 'layer')}`,
          `use a teacher layer from 1 to ${lt}`,
        );
        ok = false;
      }
      const dup = firstSeen.get(s);
      if (dup !== undefined) {
        this.error(
          ['mapping', i, 0],
          `student layer ${s} is mapped twice (also in mapping[${dup}])`,
          'map each student layer to one teacher layer; remove one of the pairs',
        );
        return;
      }
      firstSeen.set(s, i);
      if (ok && prev && (s <= prev[0] || t <= prev[1])) {
        this.error(
          ['mapping', i],
          `the pairs must increase: [${s}, ${t}] comes after [${prev[0]}, ${prev[1]}]`,
          'order the pairs by layer; both the student and the teacher layers must increase',
        );
      }
      if (ok) prev = [s, t];
    });
  }

  private losses(algorithm: Algorithm | undefined): ResolvedConfig['losses'] | undefined {
    const attentionKl = this.val<number>(['losses', 'attentionKl'], DEFAULTS.losses.attentionKl);
    const attentionKlHeads = this.val<AttentionKlHeads>(
      ['losses', 'attentionKlHeads'],
      DEFAULTS.losses.attentionKlHeads,
    );
    const clsCosine = this.val<number>(['losses', 'clsCosine'], DEFAULTS.losses.clsCosine);
    const weight = this.val<number>(['losses', 'softLabel', 'weight'], DEFAULTS.losses.softLabel.weight);
    const temperature = this.val<number>(['losses', 'softLabel', 'temperature'], DEFAULTS.losses.softLabel.temperature);
    const hardLabel =
      this.val<number>(['losses', 'hardLabel']) ??
      (algorithm && !this.invalid(['losses', 'hardLabel']) ? defaultHardLabelWeight(algorithm) : undefined);
    const hiddenMse = this.val<number>(['losses', 'hiddenMse'], DEFAULTS.losses.hiddenMse);
    const embeddingMse = this.val<number>(['losses', 'embeddingMse'], DEFAULTS.losses.embeddingMse);
    const valueRelation = this.val<number>(['losses', 'valueRelation'], DEFAULTS.losses.valueRelation);
    if (
      attentionKl === undefined ||
      attentionKlHeads === undefined ||
      clsCosine === undefined ||
      weight === undefined ||
      temperature === undefined ||
      hardLabel === undefined ||
      hiddenMse === undefined ||
      embeddingMse === undefined ||
      valueRelation === undefined
    )
      return undefined;
    const weights: Record<LossKey, number> = {
      attentionKl,
      clsCosine,
      softLabel: weight,
      hardLabel,
      hiddenMse,
      embeddingMse,
      valueRelation,
    };
    const schedules = this.schedules(weights, temperature);
    if (schedules === null) return undefined;
    return {
      attentionKl,
      attentionKlHeads,
      clsCosine,
      softLabel: { weight, temperature },
      hardLabel,
      hiddenMse,
      embeddingMse,
      valueRelation,
      ...(schedules ? { schedules } : {}),
    };
  }

  /**
   * losses.schedules with `from` and `to` filled: undefined when there are none, null when one is
   * wrong (reported). A schedule needs its loss on (weight > 0: the weight is the on/off switch)
   * and, for the temperature, values above 0.
   */
  private schedules(
    weights: Record<LossKey, number>,
    temperature: number,
  ): ResolvedLosses['schedules'] | null | undefined {
    const at: JsonPath = ['losses', 'schedules'];
    const raw = this.val<Partial<Record<ScheduleKey, ScheduleConfig>>>(at);
    if (this.invalid(at)) return null;
    if (!raw) return undefined;
    return this.scheduleEntries(at, raw, weights, temperature, (key, keyAt) => {
      if (key === 'temperature' || weights[key] > 0) return true;
      this.error(
        keyAt,
        `this schedules ${LOSS_NAME_BY_KEY[key]}, which is off (${lossWeightField(key)} is 0)`,
        `set ${lossWeightField(key)} above 0, or remove the schedule`,
      );
      return false;
    });
  }

  /**
   * A custom stage's own schedules (stages.custom[i].schedules): undefined when there are none,
   * null when one is wrong (reported). Each key must be a loss the stage lists (the temperature:
   * soft-label), so a schedule never silently applies to nothing.
   */
  private stageSchedules(
    base: JsonPath,
    stageLosses: LossName[],
    losses: ResolvedLosses,
  ): ResolvedCustomStage['schedules'] | null | undefined {
    const at: JsonPath = [...base, 'schedules'];
    const raw = this.val<Partial<Record<ScheduleKey, ScheduleConfig>>>(at);
    if (this.invalid(at)) return null;
    if (!raw || Object.keys(raw).length === 0) return undefined;
    const where = pathToText([...base, 'losses']);
    const weights = lossWeights(losses);
    return this.scheduleEntries(at, raw, weights, losses.softLabel.temperature, (key, keyAt) => {
      const name: LossName = key === 'temperature' ? 'soft-label' : LOSS_NAME_BY_KEY[key];
      if (!stageLosses.includes(name)) {
        const what = key === 'temperature' ? 'the soft-label temperature' : name;
        this.error(
          keyAt,
          `${pathToText(keyAt)} schedules ${what}, but this stage does not train ${name} (${where} is ${JSON.stringify(stageLosses)})`,
          `add '${name}' to ${where}, or remove the schedule`,
        );
        return false;
      }
      // A listed loss with weight 0 is reported on its entry in the stage's losses.
      return key === 'temperature' || weights[key] > 0;
    });
  }

  /**
   * Fills `from` (the configured weight or temperature) and `to` of each schedule under `at`;
   * null when one is wrong (reported). `allowed` reports keys that may not be scheduled there.
   */
  private scheduleEntries(
    at: JsonPath,
    raw: Partial<Record<ScheduleKey, ScheduleConfig>>,
    weights: Record<LossKey, number>,
    temperature: number,
    allowed: (key: ScheduleKey, keyAt: JsonPath) => boolean,
  ): Partial<Record<ScheduleKey, Schedule>> | null {
    const out: Partial<Record<ScheduleKey, Schedule>> = {};
    let ok = true;
    for (const key of SCHEDULE_KEYS) {
      const s = raw[key];
      if (!s) continue;
      const keyAt: JsonPath = [...at, key];
      if (!allowed(key, keyAt)) {
        ok = false;
        continue;
      }
      const base = key === 'temperature' ? temperature : weights[key];
      if (s.shape !== 'constant' && s.to === undefined) {
        this.error(
          keyAt,
          `a ${s.shape} schedule needs "to", the value at the last step of ${at.length > 2 ? 'the stage' : 'each stage'}`,
          `add e.g. "to": ${key === 'temperature' ? 1 : 0}`,
        );
        ok = false;
        continue;
      }
      const from = s.from ?? base;
      const to = s.shape === 'constant' ? (s.to ?? from) : (s.to as number);
      if (key === 'temperature') {
        for (const [field, v] of [
          ['from', from],
          ['to', to],
        ] as const) {
          if (!(v > 0)) {
            this.error(
              s[field] === undefined ? keyAt : [...keyAt, field],
              `the temperature must stay above 0 (${field} is ${v})`,
              'use a positive temperature, e.g. 1',
            );
            ok = false;
          }
        }
      }
      out[key] = { shape: s.shape, from, to };
    }
    return ok ? out : null;
  }

  private stages(
    draft: Draft,
    algorithm: Algorithm | undefined,
    losses: ResolvedConfig['losses'] | undefined,
  ): ResolvedConfig['stages'] | undefined {
    const epochsPerLayer = this.val<number>(['stages', 'epochsPerLayer'], DEFAULTS.stages.epochsPerLayer);
    const internalAllEpochs = this.val<number>(['stages', 'internalAllEpochs'], DEFAULTS.stages.internalAllEpochs);
    const classificationEpochs = this.val<number>(
      ['stages', 'classificationEpochs'],
      DEFAULTS.stages.classificationEpochs,
    );
    const patience = this.val<number | null>(['stages', 'patience'], DEFAULTS.stages.patience);
    const hasCustom = this.written(['stages', 'custom']);

    if (algorithm === 'custom' && !hasCustom) {
      this.error(
        ['algorithm'],
        'algorithm "custom" runs the stages in stages.custom, but there are none',
        'add "stages": { "custom": [{ "losses": ["soft-label"], "epochs": 3 }] }, or choose another algorithm',
      );
    }
    if (algorithm && algorithm !== 'custom' && hasCustom) {
      this.error(
        ['stages', 'custom'],
        `stages.custom is only used with algorithm "custom" (this run uses "${algorithm}")`,
        'set "algorithm": "custom", or remove stages.custom',
      );
    }
    if (algorithm && algorithm !== 'custom') {
      if (
        this.changed(['stages', 'epochsPerLayer'], DEFAULTS.stages.epochsPerLayer) &&
        algorithm !== 'pid' &&
        algorithm !== 'sid'
      ) {
        this.warn(
          ['stages', 'epochsPerLayer'],
          `stages.epochsPerLayer is only used by "pid" and "sid", not "${algorithm}"`,
          'remove it',
        );
      }
      if (
        this.changed(['stages', 'internalAllEpochs'], DEFAULTS.stages.internalAllEpochs) &&
        algorithm !== 'internal-all'
      ) {
        this.warn(
          ['stages', 'internalAllEpochs'],
          `stages.internalAllEpochs is only used by "internal-all", not "${algorithm}"`,
          'remove it',
        );
      }
    }

    let custom: ResolvedCustomStage[] | undefined;
    let customOk = true;
    if (hasCustom && algorithm === 'custom') {
      const raw = this.raw(['stages', 'custom']);
      custom = [];
      const mapped = this.mappedStudentLayers(draft);
      (Array.isArray(raw) ? raw : []).forEach((_, i) => {
        const stage = this.customStage(i, mapped, draft.studentShape?.layers, losses, patience);
        if (stage) custom?.push(stage);
        else customOk = false;
      });
    }
    if (
      epochsPerLayer === undefined ||
      internalAllEpochs === undefined ||
      classificationEpochs === undefined ||
      patience === undefined ||
      !customOk
    )
      return undefined;
    return { epochsPerLayer, internalAllEpochs, classificationEpochs, patience, ...(custom ? { custom } : {}) };
  }

  /** The student layers that have a teacher layer: all of them for a strategy, the listed ones for pairs. */
  private mappedStudentLayers(draft: Draft): number[] | undefined {
    const ls = draft.studentShape?.layers;
    if (!draft.mapping || ls === undefined) return undefined;
    if (Array.isArray(draft.mapping))
      return [...new Set(draft.mapping.map(([s]) => s))].filter((s) => s <= ls).sort((a, b) => a - b);
    return Array.from({ length: ls }, (_, i) => i + 1);
  }

  private customStage(
    i: number,
    mapped: number[] | undefined,
    ls: number | undefined,
    losses: ResolvedConfig['losses'] | undefined,
    defaultPatience: number | null | undefined,
  ): ResolvedCustomStage | undefined {
    const base: JsonPath = ['stages', 'custom', i];
    const name = this.val<string>([...base, 'name'], defaultCustomStageName(i));
    const stageLosses = this.val<LossName[]>([...base, 'losses']);
    const layersRaw = this.val<number[]>([...base, 'layers']);
    const epochs = this.val<number>([...base, 'epochs']);
    const patience =
      this.val<number | null>([...base, 'patience']) ??
      (this.invalid([...base, 'patience']) ? undefined : defaultPatience);
    const selectBest =
      this.val<boolean>([...base, 'selectBest']) ??
      (stageLosses && !this.invalid([...base, 'selectBest']) ? defaultSelectBest(stageLosses) : undefined);
    if (stageLosses && losses) {
      // the plan's own rule and words (planCustomStages throws the first; every one is reported here)
      const weights = lossWeights(losses);
      stageLosses.forEach((loss, j) => {
        const key = lossKeyOf(loss);
        const off = key && unweightedStageLoss(loss, key, weights);
        if (off) this.error([...base, 'losses', j], off.message, off.fix);
      });
    }
    const internal = stageLosses?.some((l) => PER_LAYER_LOSSES.includes(l));
    if (layersRaw && stageLosses && !internal) {
      this.warn(
        [...base, 'layers'],
        'layers only matter for attention-kl, cls-cosine, hidden-mse and value-relation, which this stage does not use, so they are ignored',
        'remove layers',
      );
    } else if (layersRaw) {
      layersRaw.forEach((s, j) => {
        if (ls !== undefined && s > ls) {
          this.error(
            [...base, 'layers', j],
            `student layer ${s} is out of range: the student has ${plural(ls, 'layer')}`,
            `use layers from 1 to ${ls}`,
          );
        } else if (mapped && !mapped.includes(s)) {
          this.error(
            [...base, 'layers', j],
            `student layer ${s} has no teacher layer in mapping`,
            `add a [${s}, <teacher layer>] pair to mapping, or remove ${s} here`,
          );
        }
      });
    }
    const schedules = stageLosses && losses ? this.stageSchedules(base, stageLosses, losses) : undefined;
    if (
      !name ||
      !stageLosses ||
      epochs === undefined ||
      patience === undefined ||
      selectBest === undefined ||
      schedules === null
    )
      return undefined;
    const own = schedules ? { schedules } : {};
    // Only internal losses use layers: an output-only stage resolves without them (ones written
    // there were warned about above), an internal one to those written or else every mapped layer.
    if (!internal) return { name, losses: stageLosses, epochs, patience, selectBest, ...own };
    const layers = layersRaw ?? mapped;
    if (!layers) return undefined;
    return { name, layers, losses: stageLosses, epochs, patience, selectBest, ...own };
  }

  /** Whether the stage plan trains `loss` at all. */
  private planUses(loss: LossName, algorithm: Algorithm, losses: ResolvedConfig['losses']): boolean {
    if (algorithm === 'custom') {
      const raw = this.raw(['stages', 'custom']);
      return (
        Array.isArray(raw) &&
        raw.some(
          (s) =>
            Array.isArray((s as { losses?: unknown })?.losses) && (s as { losses: unknown[] }).losses.includes(loss),
        )
      );
    }
    const key = lossKeyOf(loss);
    // Only asked about internal losses; the plan decides whether the algorithm trains them.
    return key === undefined || !INTERNAL_KEYS.includes(key) || builtInTrains(algorithm, lossWeights(losses), key);
  }

  /** Checks that tie the algorithm, the loss weights, the stage plan and the two models together. */
  private planChecks(
    draft: Draft,
    algorithm: Algorithm | undefined,
    losses: ResolvedConfig['losses'] | undefined,
    stages: ResolvedConfig['stages'] | undefined,
  ): void {
    if (!algorithm || !losses) return;
    const internal = INTERNAL_ALGORITHMS.includes(algorithm);
    const at = (p: JsonPath, fallback: JsonPath): JsonPath => (this.written(p) ? p : fallback);
    const classificationEpochs = this.val<number>(
      ['stages', 'classificationEpochs'],
      DEFAULTS.stages.classificationEpochs,
    );

    if ((algorithm === 'hard' || algorithm === 'hard+soft') && losses.hardLabel === 0) {
      this.error(
        ['losses', 'hardLabel'],
        `algorithm "${algorithm}" trains on gold labels, but losses.hardLabel is 0`,
        algorithm === 'hard'
          ? 'remove losses.hardLabel or set it above 0'
          : 'set losses.hardLabel above 0, or use algorithm "soft"',
      );
    }
    if ((algorithm === 'soft' || algorithm === 'hard+soft') && losses.softLabel.weight === 0) {
      this.error(
        ['losses', 'softLabel', 'weight'],
        `algorithm "${algorithm}" trains on the teacher's soft labels, but losses.softLabel.weight is 0`,
        algorithm === 'soft'
          ? 'set losses.softLabel.weight above 0'
          : 'set losses.softLabel.weight above 0, or use algorithm "hard"',
      );
    }
    if (!internal && algorithm !== 'custom' && classificationEpochs === 0) {
      this.error(
        ['stages', 'classificationEpochs'],
        `algorithm "${algorithm}" trains only in the classification stage, so 0 epochs leaves nothing to do`,
        'set stages.classificationEpochs to 1 or more',
      );
    }
    if (
      internal &&
      losses.attentionKl === 0 &&
      losses.clsCosine === 0 &&
      losses.hiddenMse === 0 &&
      losses.valueRelation === 0
    ) {
      this.error(
        at(['losses', 'attentionKl'], at(['losses', 'clsCosine'], ['losses'])),
        `algorithm "${algorithm}" distils attention maps and [CLS] vectors, but losses.attentionKl and losses.clsCosine are both 0` +
          ' (and so are losses.hiddenMse and losses.valueRelation, the other per-layer losses)',
        'set losses.attentionKl or losses.clsCosine above 0, or use algorithm "soft"',
      );
    }
    if (internal && (classificationEpochs ?? 0) > 0 && losses.softLabel.weight === 0 && losses.hardLabel === 0) {
      this.error(
        at(['losses', 'softLabel', 'weight'], ['losses']),
        'the classification stage has no loss: losses.softLabel.weight and losses.hardLabel are both 0',
        'set losses.softLabel.weight or losses.hardLabel above 0, or stages.classificationEpochs to 0',
      );
    }
    if (!internal && algorithm !== 'custom') {
      const internalFields = [
        ...INTERNAL_KEYS.map((k) => [k, LOSS_NAME_BY_KEY[k]] as const),
        ['attentionKlHeads', 'attention-kl'] as const,
      ];
      const defaults: Readonly<Record<string, unknown>> = DEFAULTS.losses;
      for (const [field, name] of internalFields) {
        if (this.changed(['losses', field], defaults[field])) {
          this.warn(
            ['losses', field],
            `losses.${field} is ignored: algorithm "${algorithm}" does not use ${name}`,
            'remove it, or use an internal algorithm (internal-all, pid, sid)',
          );
        }
      }
      const softChanged = (['weight', 'temperature'] as const).filter((k) =>
        this.changed(['losses', 'softLabel', k], DEFAULTS.losses.softLabel[k]),
      );
      if (algorithm === 'hard' && softChanged.length > 0) {
        this.warn(
          ['losses', 'softLabel', softChanged[0]],
          'losses.softLabel is ignored: algorithm "hard" uses gold labels only',
          'remove it, or use algorithm "hard+soft"',
        );
      }
      if (algorithm === 'soft' && this.written(['losses', 'hardLabel']) && losses.hardLabel > 0) {
        this.warn(
          ['losses', 'hardLabel'],
          'losses.hardLabel is ignored: algorithm "soft" uses the teacher\'s soft labels only',
          'use algorithm "hard+soft" to train on both',
        );
      }
    }

    const full = UNCACHED_KEYS.map((k) => LOSS_NAME_BY_KEY[k]).filter((l) => this.planUses(l, algorithm, losses));
    if (full.length > 0 && this.val<boolean>(['teacherCache', 'enabled'], DEFAULTS.teacherCache.enabled) === true) {
      this.warn(
        ['teacherCache', 'enabled'],
        `the teacher cache holds [CLS] vectors and attention maps only, so stages that train ${list(full)} run the teacher every step`,
        'keep it for the other stages, or turn it off',
      );
    }

    const t = draft.teacherShape;
    const s = draft.studentShape;
    if (!t || !s) return;
    if (
      s.heads !== undefined &&
      s.heads !== t.heads &&
      losses.attentionKlHeads === 'match' &&
      this.planUses('attention-kl', algorithm, losses)
    ) {
      this.error(
        at(['student', 'heads'], at(['student', 'init'], ['student'])),
        `the student has ${plural(s.heads, 'attention head')} and the teacher ${t.heads}; attention-kl compares them head by head`,
        `set student.heads to ${t.heads}, set losses.attentionKl to 0, or set losses.attentionKlHeads to "average" to compare head-averaged maps`,
      );
    }
    if (s.heads !== undefined && s.heads !== t.heads && this.planUses('value-relation', algorithm, losses)) {
      this.error(
        at(['losses', 'valueRelation'], at(['student', 'heads'], ['student'])),
        `the student has ${plural(s.heads, 'attention head')} and the teacher ${t.heads}; value-relation compares their value relations head by head`,
        `set student.heads to ${t.heads}, or set losses.valueRelation to 0`,
      );
    }
    if (s.hiddenSize !== undefined && s.hiddenSize !== t.hiddenSize && this.planUses('cls-cosine', algorithm, losses)) {
      this.warn(
        at(['student', 'hiddenSize'], ['student']),
        `the student's hiddenSize ${s.hiddenSize} differs from the teacher's ${t.hiddenSize}, so cls-cosine compares through a learned ${s.hiddenSize}→${t.hiddenSize} projection`,
      );
    }
    const mse = (['hidden-mse', 'embedding-mse'] as const).filter((l) => this.planUses(l, algorithm, losses));
    if (s.hiddenSize !== undefined && s.hiddenSize !== t.hiddenSize && mse.length > 0) {
      this.warn(
        at(['student', 'hiddenSize'], ['student']),
        `the student's hiddenSize ${s.hiddenSize} differs from the teacher's ${t.hiddenSize}, so ${mse.join(' and ')} compare${mse.length === 1 ? 's' : ''} through a learned ${s.hiddenSize}→${t.hiddenSize} projection (TinyBERT's fit_dense)`,
      );
    }
    const mapped = this.mappedStudentLayers(draft);
    const internalUsed = PER_LAYER_LOSSES.some((l) => this.planUses(l, algorithm, losses));
    if (mapped && s.layers !== undefined && Array.isArray(draft.mapping) && internalUsed && stages !== undefined) {
      const unmapped = Array.from({ length: s.layers }, (_, i) => i + 1).filter((k) => !mapped.includes(k));
      if (unmapped.length > 0) {
        this.warn(
          ['mapping'],
          `student ${unmapped.length === 1 ? 'layer' : 'layers'} ${list(unmapped)} ${unmapped.length === 1 ? 'has' : 'have'} no teacher layer, so the internal losses do not train ${unmapped.length === 1 ? 'it' : 'them'} directly`,
          'add pairs for them to mapping',
        );
      }
    }
  }

  /**
   * Each epoch field is bounded by the schema; the whole plan (teacher training plus every stage)
   * is bounded too, so that a run's step counts stay finite and exact and it ends this decade.
   */
  private totalEpochs(
    draft: Draft,
    algorithm: Algorithm | undefined,
    stages: ResolvedConfig['stages'] | undefined,
    teacher: ResolvedTeacher | undefined,
  ): void {
    if (!algorithm || !stages) return;
    // [field, epochs it adds, how many times]
    const parts: Array<[JsonPath, number, number]> = [];
    if (teacher && 'train' in teacher) parts.push([['teacher', 'train', 'epochs'], teacher.train.epochs, 1]);
    if (algorithm === 'custom') {
      (stages.custom ?? []).forEach((st, i) => parts.push([['stages', 'custom', i, 'epochs'], st.epochs, 1]));
    } else {
      if (algorithm === 'internal-all') parts.push([['stages', 'internalAllEpochs'], stages.internalAllEpochs, 1]);
      if (algorithm === 'pid' || algorithm === 'sid') {
        const mapped = this.mappedStudentLayers(draft);
        if (!mapped) return;
        parts.push([['stages', 'epochsPerLayer'], stages.epochsPerLayer, mapped.length]);
      }
      parts.push([['stages', 'classificationEpochs'], stages.classificationEpochs, 1]);
    }
    const total = parts.reduce((sum, [, e, n]) => sum + e * n, 0);
    if (total <= MAX_TOTAL_EPOCHS) return;
    // Point at the biggest contributor: lowering it is the fix.
    const [field, epochs, times] = parts.reduce((a, b) => (b[1] * b[2] > a[1] * a[2] ? b : a));
    const name = pathToText(field);
    const rest = total - epochs * times;
    const most = Math.max(1, Math.floor((MAX_TOTAL_EPOCHS - rest) / times));
    this.error(
      this.written(field) ? field : ['stages'],
      `the run would train ${total} epochs in all (${name} ${epochs}${times > 1 ? ` × ${times} mapped layers` : ''}), more than the ${MAX_TOTAL_EPOCHS} allowed`,
      `set ${name} to at most ${most}`,
    );
  }

  /**
   * On wasm, the trainer refuses (before each phase's first step) a batch the 4 GiB heap cannot
   * hold; the same estimate here catches it before a run folder exists. A model too big for the
   * heap at any batch is an error. A batch is judged at task.maxSeqLen, while the trainer judges it
   * at the longest example, which may be shorter: that is a warning. The estimate assumes the
   * fused kernels (the smaller one), so it warns only when even those would not fit.
   */
  private wasmHeap(
    draft: Draft,
    teacher: ResolvedTeacher | undefined,
    student: ResolvedConfig['student'],
    batchSize: number,
    evalBatch: number,
  ): void {
    const t = draft.teacherShape;
    const seq = draft.task?.maxSeqLen;
    if (!t || seq === undefined || !teacher) return;
    const numLabels = draft.task?.labelCount ?? 2;
    const model = (
      m: { layers: number; hiddenSize: number; heads: number; intermediateSize: number },
      extra = 0,
    ): ModelSize => {
      const config: BertConfig = {
        ...BERT_BASE_DEFAULTS,
        vocabSize: t.vocabSize ?? BERT_BASE_DEFAULTS.vocabSize,
        hiddenSize: m.hiddenSize,
        numHiddenLayers: m.layers,
        numAttentionHeads: m.heads,
        intermediateSize: m.intermediateSize,
        maxPositionEmbeddings: t.maxPositions,
        numLabels,
        labels: [],
        problemType: numLabels === 1 ? 'regression' : 'single_label_classification',
      };
      return { config, params: bertParameterCount(config) + extra };
    };
    const usable = usableHeapBytes();
    const limit = `the wasm backend's ${formatBytes(usable)} usable heap`;
    const fixBackend = 'or use backend "tensorflow" (no 4 GiB heap)';
    const checkPhase = (
      teacherSize: ModelSize | null,
      trained: ModelSize,
      batch: number,
      batchPath: JsonPath,
      modelPath: JsonPath,
    ): void => {
      const step = stepMemory(teacherSize, trained, batch, seq, 'fused');
      if (step.persistentBytes + optimizerTransientBytes(trained.config, trained.params) > usable) {
        this.error(
          this.written(modelPath) ? modelPath : ['backend'],
          `with backend "wasm", the weights and optimizer of this ${pathToText(modelPath)} model need about ${formatBytes(step.optimizerPhaseBytes)}, more than ${limit}, at any batch size`,
          `train a smaller model (fewer layers, a narrower width), ${fixBackend}`,
        );
        return;
      }
      if (step.totalBytes > usable) {
        const fit = largestBatchUnder((b) => stepMemory(teacherSize, trained, b, seq, 'fused').totalBytes, usable);
        this.warn(
          this.written(batchPath) ? batchPath : ['backend'],
          `with backend "wasm", a training step of ${batch} sequences × ${seq} tokens needs about ${formatBytes(step.totalBytes)}, more than ${limit}; the run will refuse it if its examples are that long`,
          `${fit >= 1 ? `set ${pathToText(batchPath)} to at most ${fit}, ` : ''}lower task.maxSeqLen, ${fixBackend}`,
        );
      }
    };
    const teacherSize = model(t);
    const projection = student.hiddenSize !== t.hiddenSize ? student.hiddenSize * t.hiddenSize : 0;
    const studentSize = model(student, projection);
    if ('train' in teacher)
      checkPhase(null, teacherSize, teacher.train.batchSize, ['teacher', 'train', 'batchSize'], ['teacher', 'train']);
    checkPhase(teacherSize, studentSize, batchSize, ['optim', 'batchSize'], ['student']);
    const evalBytes = evalMemory(teacherSize, studentSize, evalBatch, seq, 'fused').totalBytes;
    if (this.errorCount === 0 && evalBytes > usable) {
      const fit = largestBatchUnder((b) => evalMemory(teacherSize, studentSize, b, seq, 'fused').totalBytes, usable);
      this.warn(
        this.written(['eval', 'batchSize']) ? ['eval', 'batchSize'] : ['backend'],
        `with backend "wasm", an evaluation batch of ${evalBatch} sequences × ${seq} tokens needs about ${formatBytes(evalBytes)}, more than ${limit}; the run will refuse it if its examples are that long`,
        `${fit >= 1 ? `set eval.batchSize to at most ${fit}, ` : ''}lower task.maxSeqLen, ${fixBackend}`,
      );
    }
  }

  private optim(): { complete?: ResolvedConfig['optim']; batchSize?: number } {
    const p = (k: string): JsonPath => ['optim', k];
    const d = DEFAULTS.optim;
    const v = {
      lr: this.val<number>(p('lr'), d.lr),
      batchSize: this.val<number>(p('batchSize'), d.batchSize),
      warmup: this.val<number>(p('warmup'), d.warmup),
      weightDecay: this.val<number>(p('weightDecay'), d.weightDecay),
      maxGradNorm: this.val<number>(p('maxGradNorm'), d.maxGradNorm),
      beta1: this.val<number>(p('beta1'), d.beta1),
      beta2: this.val<number>(p('beta2'), d.beta2),
      eps: this.val<number>(p('eps'), d.eps),
      seed: this.val<number>(p('seed'), d.seed),
    };
    const dropout = this.val<number>(p('dropout'));
    if (v.warmup !== undefined && v.warmup >= 1 && !Number.isInteger(v.warmup)) {
      this.error(
        p('warmup'),
        `a warmup of 1 or more counts steps and must be a whole number, not ${v.warmup}`,
        `use ${Math.round(v.warmup)} steps, or a fraction below 1 such as 0.1`,
      );
    }
    const { lr, batchSize, warmup, weightDecay, maxGradNorm, beta1, beta2, eps, seed } = v;
    if (
      lr === undefined ||
      batchSize === undefined ||
      warmup === undefined ||
      weightDecay === undefined ||
      maxGradNorm === undefined ||
      beta1 === undefined ||
      beta2 === undefined ||
      eps === undefined ||
      seed === undefined ||
      this.invalid(p('dropout'))
    ) {
      return { batchSize };
    }
    return {
      batchSize,
      complete: {
        lr,
        batchSize,
        warmup,
        weightDecay,
        maxGradNorm,
        beta1,
        beta2,
        eps,
        seed,
        ...(dropout !== undefined ? { dropout } : {}),
      },
    };
  }
}
