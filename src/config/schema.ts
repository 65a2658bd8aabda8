/**
 * The JSON Schema of `*.distill.json` (schema/distill.schema.json, also used by VS Code for
 * completion and hover), its compiled ajv validator, and the translation of ajv's errors into
 * problems a person can act on: one per cause, naming the field, with a fix where one is obvious.
 */
import Ajv, { ErrorObject, ValidateFunction } from 'ajv';
import schemaJson from '../../schema/distill.schema.json';
import { ConfigDocument, ConfigProblem, JsonPath, pathToText, RangeTarget } from './parse';

/** The parts of a schema node this module reads. */
export interface SchemaNode {
  type?: string | string[];
  description?: string;
  markdownDescription?: string;
  properties?: Record<string, SchemaNode>;
  required?: string[];
  items?: SchemaNode;
  oneOf?: SchemaNode[];
  enum?: unknown[];
  minimum?: number;
  exclusiveMinimum?: number;
  maximum?: number;
  exclusiveMaximum?: number;
  default?: unknown;
  examples?: unknown[];
  errorMessage?: string;
  patternErrorMessage?: string;
}

export const DISTILL_SCHEMA: SchemaNode = schemaJson as SchemaNode;

/** Keywords VS Code understands that ajv does not know; declared so ajv's strict mode accepts them. */
const EDITOR_KEYWORDS = [
  'markdownDescription',
  'enumDescriptions',
  'markdownEnumDescriptions',
  'errorMessage',
  'allowTrailingCommas',
  'patternErrorMessage',
  'defaultSnippets',
  'deprecationMessage',
  'doNotSuggest',
];

let compiled: ValidateFunction | undefined;

export function createAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true });
  ajv.addVocabulary(EDITOR_KEYWORDS);
  return ajv;
}

/** The compiled validator, built once per process (the editor validates on every keystroke). */
export function schemaValidator(): ValidateFunction {
  compiled ??= createAjv().compile(DISTILL_SCHEMA);
  return compiled;
}

/** The schema node that describes `path` in a config, following properties, items and oneOf branches. */
export function schemaAt(
  path: readonly (string | number)[],
  root: SchemaNode = DISTILL_SCHEMA,
): SchemaNode | undefined {
  let nodes: SchemaNode[] = [root];
  for (const seg of path) {
    const next: SchemaNode[] = [];
    for (const n of nodes.flatMap((x) => [x, ...(x.oneOf ?? [])])) {
      const child = typeof seg === 'number' ? n.items : n.properties?.[seg];
      if (child) next.push(child);
    }
    if (next.length === 0) return undefined;
    nodes = next;
  }
  return nodes[0];
}

/** Validates a parsed config against the schema; every problem carries its path and range. */
export function schemaProblems(doc: ConfigDocument): ConfigProblem[] {
  const validate = schemaValidator();
  if (validate(doc.value)) return [];
  const errors = pickOneOfBranches(validate.errors ?? []);
  const typeFailed = new Set(errors.filter((e) => e.keyword === 'type').map((e) => e.instancePath));
  const problems: ConfigProblem[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    // A wrong type explains every other complaint about the same value.
    if (e.keyword !== 'type' && typeFailed.has(e.instancePath)) continue;
    const p = describeError(e, doc);
    const key = `${p.pathText}\u0000${p.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push(p);
  }
  return problems;
}

/**
 * ajv reports the errors of every branch of a failed oneOf. Keep those of the branch the value was
 * evidently meant for (the right type, fewest errors); when no branch has the right type, keep only
 * the oneOf error, which is then described by the schema's errorMessage.
 */
function pickOneOfBranches(errors: ErrorObject[]): ErrorObject[] {
  let kept = errors;
  const oneOfs = errors
    .filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf')
    .sort((a, b) => a.schemaPath.length - b.schemaPath.length);
  for (const alt of oneOfs) {
    if (!kept.includes(alt)) continue;
    const prefix = `${alt.schemaPath}/`;
    const byBranch = new Map<number, ErrorObject[]>();
    for (const e of kept) {
      if (!e.schemaPath.startsWith(prefix)) continue;
      const branch = Number(e.schemaPath.slice(prefix.length).split('/')[0]);
      byBranch.set(branch, [...(byBranch.get(branch) ?? []), e]);
    }
    let best: ErrorObject[] | undefined;
    for (const [branch, errs] of byBranch) {
      const wrongType = errs.some(
        (e) =>
          e.keyword === 'type' && e.instancePath === alt.instancePath && e.schemaPath === `${prefix}${branch}/type`,
      );
      if (!wrongType && (!best || errs.length < best.length)) best = errs;
    }
    const drop = new Set<ErrorObject>();
    for (const errs of byBranch.values()) if (errs !== best) errs.forEach((e) => drop.add(e));
    if (best) drop.add(alt);
    kept = kept.filter((e) => !drop.has(e));
  }
  return kept;
}

function pointerToPath(pointer: string, data: unknown): JsonPath {
  const path: JsonPath = [];
  let cur: unknown = data;
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur) && /^\d+$/.test(seg)) {
      path.push(Number(seg));
      cur = cur[Number(seg)];
    } else {
      path.push(seg);
      cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[seg] : undefined;
    }
  }
  return path;
}

function describeError(e: ErrorObject, doc: ConfigDocument): ConfigProblem {
  const path = pointerToPath(e.instancePath, doc.value);
  const where = pathToText(path);
  const subject = where ? `'${where}'` : 'the config';
  const parent = (e.parentSchema ?? {}) as SchemaNode;
  const params = e.params as Record<string, unknown>;
  const make = (p: JsonPath, message: string, fix?: string, target: RangeTarget = 'auto'): ConfigProblem =>
    doc.problem(p, message, { fix, target });

  switch (e.keyword) {
    case 'additionalProperties': {
      const name = String(params.additionalProperty);
      const allowed = Object.keys(parent.properties ?? {});
      const guess = closest(name, allowed);
      const inWhere = where ? ` in '${where}'` : '';
      return make(
        [...path, name],
        `unknown field '${name}'${inWhere}${guess ? ` (did you mean '${guess}'?)` : ''}`,
        guess ? `rename it to '${guess}'` : `remove it; the fields here are ${allowed.map((a) => `'${a}'`).join(', ')}`,
        'key',
      );
    }
    case 'required': {
      const name = String(params.missingProperty);
      const field = parent.properties?.[name];
      const sample = field?.default ?? field?.examples?.[0];
      const inWhere = where ? ` in '${where}'` : '';
      return make(
        [...path, name],
        `missing required field '${name}'${inWhere}`,
        sample !== undefined ? `add "${name}": ${JSON.stringify(sample)}` : `add "${name}"`,
      );
    }
    case 'type': {
      if (parent.errorMessage) return make(path, `${subject} ${parent.errorMessage}`);
      const expected = String(params.type).split(',').map(withArticle).join(' or ');
      const fix =
        typeof e.data === 'string' &&
        /^-?\d+(\.\d+)?(e-?\d+)?$/i.test(e.data) &&
        /integer|number/.test(String(params.type))
          ? `write ${e.data} without quotes`
          : undefined;
      return make(path, `${subject} must be ${expected}, not ${describeValue(e.data)}`, fix, 'value');
    }
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]) ?? [];
      const guess = typeof e.data === 'string' ? closest(e.data, allowed.map(String)) : undefined;
      return make(
        path,
        `${subject} must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, not ${JSON.stringify(e.data)}${guess ? ` (did you mean "${guess}"?)` : ''}`,
        guess ? `use "${guess}"` : undefined,
        'value',
      );
    }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum': {
      const op = { minimum: '≥', maximum: '≤', exclusiveMinimum: '>', exclusiveMaximum: '<' }[e.keyword];
      const bound = { minimum: 'at least', maximum: 'at most', exclusiveMinimum: 'above', exclusiveMaximum: 'below' }[
        e.keyword
      ];
      const fix = where ? `set ${where} to ${bound} ${String(params.limit)}` : undefined;
      return make(
        path,
        `${subject} must be ${op} ${String(params.limit)}, not ${JSON.stringify(e.data)}`,
        fix,
        'value',
      );
    }
    case 'minItems':
    case 'maxItems': {
      if (parent.errorMessage) return make(path, `${subject} ${parent.errorMessage}`);
      const n = Number(params.limit);
      const bound = e.keyword === 'minItems' ? 'at least' : 'at most';
      return make(path, `${subject} must have ${bound} ${n} item${n === 1 ? '' : 's'}`);
    }
    case 'uniqueItems': {
      const items = Array.isArray(e.data) ? e.data : [];
      const dup = items[Number(params.i)];
      return make(path, `${subject} lists ${JSON.stringify(dup)} more than once`, 'remove the repeated item');
    }
    case 'minLength':
      return make(path, `${subject} must not be empty`, undefined, 'value');
    case 'maxLength':
      return make(path, `${subject} must be at most ${String(params.limit)} characters long`, undefined, 'value');
    case 'pattern':
      return make(
        path,
        `${subject} ${parent.patternErrorMessage ?? `must match ${String(params.pattern)}`}`,
        undefined,
        'value',
      );
    case 'oneOf':
    case 'anyOf':
      return make(path, `${subject} ${parent.errorMessage ?? 'has the wrong shape'}`, undefined, 'value');
    default:
      return make(path, `${subject} ${e.message ?? 'is invalid'}`);
  }
}

function withArticle(type: string): string {
  if (type === 'null') return 'null';
  const name = type === 'array' ? 'list' : type;
  return /^[aeiou]/.test(name) ? `an ${name}` : `a ${name}`;
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `a string (${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)})`;
  return `${typeof v === 'number' && Number.isInteger(v) ? 'the number' : `a ${typeof v}`} ${JSON.stringify(v)}`;
}

/** The candidate closest to `word` by edit distance (case-insensitive), if close enough to be a typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  const exact = candidates.find((c) => c.toLowerCase() === w);
  if (exact !== undefined) return exact;
  // 'gpu' → 'tensorflow-gpu', 'temp' → 'temperature': a fragment of one name is a better hint than a near miss.
  if (w.length >= 3) {
    const containing = candidates.filter((c) => c.toLowerCase().includes(w));
    if (containing.length === 1) return containing[0];
  }
  let best: string | undefined;
  let bestDist = Infinity;
  for (const c of candidates) {
    const d = editDistance(w, c.toLowerCase());
    if (d < bestDist) {
      best = c;
      bestDist = d;
    }
  }
  const limit = Math.max(1, Math.min(3, Math.floor(word.length / 3)));
  return best !== undefined && bestDist <= limit ? best : undefined;
}

/** Damerau–Levenshtein distance (optimal string alignment), so a swapped pair counts as one edit. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}
