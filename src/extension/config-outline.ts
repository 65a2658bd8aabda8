/**
 * What the Configs tree shows for one *.distill.json: the task, algorithm, teacher, student and the
 * layer mapping expanded into pairs. Reads the config leniently (the file may be mid-edit) and
 * the teacher's config.json for its depth; no schema validation, so it stays cheap to load.
 */
import * as path from 'node:path';
import { parseConfigText } from '../config/parse';
import { defaultMapping, defaultStudentLayers } from '../config/defaults';
import { LayerPair as MappingPair, MappingSpec, resolveMapping } from '../distill/mapping';
import { readCheckpointLayers } from './checkpoint-info';

export interface ConfigOutline {
  file: string;
  name?: string;
  task?: string;
  algorithm?: string;
  teacher: {
    /** How the teacher is given: a ready checkpoint, or trained by the run. */
    source: 'checkpoint' | 'fine-tune' | 'scratch' | 'missing';
    /** The folder, absolute, when there is one. */
    dir?: string;
    layers?: number;
  };
  student: { layers?: number; init?: string; layersDefaulted: boolean };
  mapping: {
    /** "every-other", "uniform", "last-layers" or "explicit". */
    spec?: string;
    defaulted: boolean;
    pairs?: MappingPair[];
    /** Why the pairs cannot be shown (unknown depths, or a bad mapping). */
    problem?: string;
  };
  /** The file does not parse. */
  syntaxError?: string;
}

export { readCheckpointLayers };

type Obj = Record<string, unknown>;

function obj(x: unknown): Obj | undefined {
  return x && typeof x === 'object' && !Array.isArray(x) ? (x as Obj) : undefined;
}

function posInt(x: unknown): number | undefined {
  return typeof x === 'number' && Number.isInteger(x) && x > 0 ? x : undefined;
}

export function outlineConfig(
  text: string,
  file: string,
  readLayers: (dir: string) => number | undefined = readCheckpointLayers,
): ConfigOutline {
  const out: ConfigOutline = {
    file,
    teacher: { source: 'missing' },
    student: { layersDefaulted: false },
    mapping: { defaulted: false },
  };
  const { config, problems } = parseConfigText(text, file);
  const syntax = problems.find((p) => p.message.startsWith('syntax error') || p.message.includes('empty'));
  if (syntax) out.syntaxError = `${syntax.message}${syntax.range ? ` (line ${syntax.range.line})` : ''}`;
  const root = obj(config);
  if (!root) {
    out.syntaxError ??= 'the config is not a JSON object';
    return out;
  }
  const dir = path.dirname(path.resolve(file));
  if (typeof root.name === 'string') out.name = root.name;
  const task = obj(root.task);
  if (typeof task?.name === 'string') out.task = task.name;
  if (typeof root.algorithm === 'string') out.algorithm = root.algorithm;

  const teacher = obj(root.teacher);
  const train = obj(teacher?.train);
  if (typeof teacher?.checkpoint === 'string') {
    out.teacher = { source: 'checkpoint', dir: path.resolve(dir, teacher.checkpoint) };
    out.teacher.layers = readLayers(out.teacher.dir as string);
  } else if (train && train.from === 'scratch') {
    out.teacher = {
      source: 'scratch',
      ...(typeof teacher?.output === 'string' ? { dir: path.resolve(dir, teacher.output) } : {}),
    };
    const layers = posInt(obj(train.architecture)?.layers);
    if (layers) out.teacher.layers = layers;
  } else if (train && typeof train.from === 'string') {
    out.teacher = { source: 'fine-tune', dir: path.resolve(dir, train.from) };
    out.teacher.layers = readLayers(out.teacher.dir as string);
  }

  const student = obj(root.student);
  const init = student?.init;
  if (typeof init === 'string') out.student.init = init;
  else if (obj(init) && typeof obj(init)?.checkpoint === 'string')
    out.student.init = `checkpoint ${String(obj(init)?.checkpoint)}`;
  const explicitLayers = posInt(student?.layers);
  const initDir =
    obj(init) && typeof obj(init)?.checkpoint === 'string'
      ? path.resolve(dir, String(obj(init)?.checkpoint))
      : undefined;
  const initLayers = initDir ? readLayers(initDir) : undefined;
  if (explicitLayers) out.student.layers = explicitLayers;
  else if (initLayers) out.student.layers = initLayers;
  else if (out.teacher.layers) {
    out.student.layers = defaultStudentLayers(out.teacher.layers);
    out.student.layersDefaulted = true;
  }

  const rawMapping = root.mapping;
  const ls = out.student.layers;
  const lt = out.teacher.layers;
  let spec: unknown = rawMapping;
  if (rawMapping === undefined) {
    out.mapping.defaulted = true;
    if (ls && lt) spec = defaultMapping(ls, lt);
  }
  out.mapping.spec = Array.isArray(spec) ? 'explicit' : typeof spec === 'string' ? spec : undefined;
  if (!ls || !lt) {
    out.mapping.problem = lt
      ? "the student's depth is unknown"
      : "the teacher's depth is unknown (its config.json cannot be read)";
  } else if (spec !== undefined) {
    try {
      // Explicit pairs are written [student, teacher]; resolveMapping takes the same shape.
      out.mapping.pairs = resolveMapping(spec as MappingSpec, ls, lt);
    } catch (e) {
      out.mapping.problem = e instanceof Error ? e.message : String(e);
    }
  }
  return out;
}
