/**
 * Quick Fixes for config problems: text edits for the problems that have one obvious repair.
 * Works from the engine's problems (path, message, fix text), so a fix is offered at the same place
 * whether the squiggle came from the JSON language service (schema) or from our own provider.
 * Edits come from jsonc-parser's `modify`, which keeps comments and the file's indentation.
 */
import { applyEdits, findNodeAtLocation, FormattingOptions, getNodeValue, modify, parseTree } from 'jsonc-parser';
import type { ConfigProblem, JsonPath } from '../config/parse';

export interface TextEditData {
  offset: number;
  length: number;
  newText: string;
}

export interface QuickFix {
  title: string;
  edits: TextEditData[];
  /** The one fix to apply with "Fix all" / the lightbulb's first choice. */
  preferred: boolean;
}

/** The model depths, when known, so mapping fixes only offer strategies that fit. */
export interface FixContext {
  studentLayers?: number;
  teacherLayers?: number;
}

export function formattingOf(text: string): FormattingOptions {
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const indented = /^([ \t]+)\S/m.exec(text);
  const indent = indented?.[1] ?? '  ';
  return indent.startsWith('\t')
    ? { insertSpaces: false, tabSize: 4, eol }
    : { insertSpaces: true, tabSize: indent.length, eol };
}

function setValue(text: string, path: JsonPath, value: unknown): TextEditData[] {
  return modify(text, path, value, { formattingOptions: formattingOf(text) }).map((e) => ({
    offset: e.offset,
    length: e.length,
    newText: e.content,
  }));
}

function renameKey(text: string, path: JsonPath, to: string): TextEditData[] {
  const root = parseTree(text);
  if (!root || path.length === 0) return [];
  const node = findNodeAtLocation(root, path);
  const keyNode = node?.parent?.type === 'property' ? node.parent.children?.[0] : undefined;
  if (!keyNode) return [];
  // Renaming onto an existing field would create a duplicate.
  if (findNodeAtLocation(root, [...path.slice(0, -1), to])) return [];
  return [{ offset: keyNode.offset, length: keyNode.length, newText: JSON.stringify(to) }];
}

function fix(title: string, edits: TextEditData[], preferred = false): QuickFix[] {
  return edits.length > 0 ? [{ title, edits, preferred }] : [];
}

function parseJson(s: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(s) };
  } catch {
    return { ok: false };
  }
}

function mappingFixes(text: string, ctx: FixContext): QuickFix[] {
  const out: QuickFix[] = [];
  const { studentLayers: ls, teacherLayers: lt } = ctx;
  if (ls !== undefined && lt !== undefined && lt === 2 * ls)
    out.push(...fix('Replace the mapping with "every-other"', setValue(text, ['mapping'], 'every-other')));
  if (ls === undefined || lt === undefined || lt >= ls)
    out.push(...fix('Replace the mapping with "uniform"', setValue(text, ['mapping'], 'uniform')));
  return out;
}

export function quickFixesFor(text: string, problem: ConfigProblem, ctx: FixContext = {}): QuickFix[] {
  const path = problem.path;
  const last = path[path.length - 1];
  const f = problem.fix ?? '';
  let m: RegExpExecArray | null;

  // ---- specific problems first: these know more than their fix text says.
  if (
    path[0] === 'mapping' &&
    path.length === 3 &&
    (m = /^(student|teacher) layer (\d+) is out of range: the \1 has (\d+) layer/.exec(problem.message))
  ) {
    const max = Number(m[3]);
    return [...fix(`Clamp the ${m[1]} layer to ${max}`, setValue(text, path, max)), ...mappingFixes(text, ctx)];
  }
  if (
    path.length === 1 &&
    path[0] === 'mapping' &&
    /"every-other" needs a teacher twice as deep/.test(problem.message)
  ) {
    const out = fix('Use the "uniform" mapping', setValue(text, ['mapping'], 'uniform'), true);
    if ((m = /set student\.layers to (\d+)/.exec(f)))
      out.push(...fix(`Set student.layers to ${m[1]}`, setValue(text, ['student', 'layers'], Number(m[1]))));
    return out;
  }
  if (
    path.join('.') === 'student.layers' &&
    (m = /the student has \d+ layers? but the teacher only (\d+)/.exec(problem.message))
  ) {
    const lt = Number(m[1]);
    const half = Math.max(1, Math.floor(lt / 2));
    return fix(`Set student.layers to ${half} (half the teacher)`, setValue(text, ['student', 'layers'], half), true);
  }

  // ---- fixes whose text is itself the edit.
  if ((m = /^rename it to '([^']+)'$/.exec(f)) && typeof last === 'string') {
    return fix(`Rename '${last}' to '${m[1]}'`, renameKey(text, path, m[1]), true);
  }
  if ((m = /^use "([^"]+)"$/.exec(f))) {
    return fix(`Use "${m[1]}"`, setValue(text, path, m[1]), true);
  }
  if ((m = /^(add|set) "([^"]+)": (.+)$/.exec(f)) && last === m[2]) {
    const v = parseJson(m[3]);
    if (v.ok)
      return fix(
        `${m[1] === 'add' ? 'Add' : 'Set'} "${m[2]}": ${m[3].length > 40 ? `${m[3].slice(0, 40)}…` : m[3]}`,
        setValue(text, path, v.value),
        true,
      );
  }
  if ((m = /^write (-?[\d.eE+-]+) without quotes$/.exec(f))) {
    const n = Number(m[1]);
    if (Number.isFinite(n)) return fix(`Write ${m[1]} as a number`, setValue(text, path, n), true);
  }
  if (
    (m = /^set "?([\w.]+)"? to at most (\d+)$/.exec(f)) &&
    typeof last === 'string' &&
    (m[1] === last || m[1] === problem.pathText)
  ) {
    return fix(`Set ${problem.pathText} to ${m[2]}`, setValue(text, path, Number(m[2])), true);
  }
  if ((f === 'remove it' || f === `remove ${problem.pathText}` || f === `remove ${String(last)}`) && path.length > 0) {
    return fix(`Remove ${problem.pathText}`, setValue(text, path, undefined), true);
  }
  return [];
}

/** The span of the top-level "mapping" property, key to value; undefined when the config has none. */
export function mappingSpan(text: string): { offset: number; length: number } | undefined {
  const root = parseTree(text);
  const value = root ? findNodeAtLocation(root, ['mapping']) : undefined;
  const prop = value?.parent?.type === 'property' ? value.parent : undefined;
  return prop ? { offset: prop.offset, length: prop.length } : undefined;
}

/**
 * Sets "mapping" to the pairs `distillery advise-mapping` proposed. An existing value is replaced
 * by the pairs on one line, as configs write them ([[1, 2], [2, 4]]); a missing one is added.
 * None when the config already has exactly these pairs.
 */
export function advisedMappingFix(text: string, pairs: ReadonlyArray<readonly [number, number]>): QuickFix[] {
  const title = `Apply the advised mapping [${pairs.map(([s, t]) => `[${s}, ${t}]`).join(', ')}]`;
  const root = parseTree(text);
  const node = root ? findNodeAtLocation(root, ['mapping']) : undefined;
  if (!node)
    return fix(
      title,
      setValue(
        text,
        ['mapping'],
        pairs.map(([s, t]) => [s, t]),
      ),
      true,
    );
  if (JSON.stringify(getNodeValue(node)) === JSON.stringify(pairs)) return [];
  return fix(
    title,
    [{ offset: node.offset, length: node.length, newText: `[${pairs.map(([s, t]) => `[${s}, ${t}]`).join(', ')}]` }],
    true,
  );
}

/** Applies edits to a text (for tests and previews). */
export function applyTextEdits(text: string, edits: readonly TextEditData[]): string {
  return applyEdits(
    text,
    edits.map((e) => ({ offset: e.offset, length: e.length, content: e.newText })),
  );
}
