/**
 * JSONC parsing of a config file and the mapping from JSON paths to source ranges, shared by the
 * validator (which attaches a range to every problem) and the editor's diagnostics provider.
 * Lines and columns are 1-based; columns count UTF-16 code units, as VS Code positions do.
 */
import { Node, ParseError, parseTree, findNodeAtLocation, printParseErrorCode } from 'jsonc-parser';

export type JsonPath = (string | number)[];

export interface SourceRange {
  /** 1-based. */
  line: number;
  /** 1-based, in UTF-16 code units. */
  column: number;
  /** 0-based offset into the text. */
  offset: number;
  length: number;
}

export interface ConfigProblem {
  path: JsonPath;
  /** e.g. 'mapping[2][1]', 'student.layers'; '' for the whole file. */
  pathText: string;
  message: string;
  fix?: string;
  severity: 'error' | 'warning';
  range?: SourceRange;
}

/**
 * Which part of a node a range should cover. `auto`: a scalar's value, a property's key when the
 * value is an object or array (a whole object would underline many lines), else a container's
 * value when it fits on one line, or its opening bracket.
 */
export type RangeTarget = 'auto' | 'key' | 'value';

const JSONC_OPTIONS = { allowTrailingComma: true, disallowComments: false } as const;

const SYNTAX_MESSAGES: Record<string, string> = {
  InvalidSymbol: 'unexpected character',
  InvalidNumberFormat: 'malformed number',
  PropertyNameExpected: 'expected a field name in double quotes',
  ValueExpected: 'expected a value',
  ColonExpected: "expected ':' after the field name",
  CommaExpected: "expected ',' between items",
  CloseBraceExpected: "expected '}' to close the object",
  CloseBracketExpected: "expected ']' to close the list",
  EndOfFileExpected: 'unexpected text after the end of the config',
  InvalidCommentToken: 'malformed comment',
  UnexpectedEndOfComment: "comment not closed (missing '*/')",
  UnexpectedEndOfString: "string not closed (missing '\"')",
  UnexpectedEndOfNumber: 'number cut off',
  InvalidUnicode: 'malformed \\u escape',
  InvalidEscapeCharacter: 'invalid escape sequence in a string',
  InvalidCharacter: 'invalid character in a string (control characters must be escaped)',
};

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** ['mapping', 2, 1] → 'mapping[2][1]'; keys that are not identifiers are quoted. */
export function pathToText(path: readonly (string | number)[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (IDENTIFIER.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** A parsed config text: its value, its syntax problems and a way to find any path's source range. */
export class ConfigDocument {
  readonly value: unknown;
  readonly root: Node | undefined;
  /** Problems that make the value unusable; later checks are skipped when there are any. */
  readonly syntaxProblems: ConfigProblem[];
  /** Repeated keys: reported, but the value (last key wins) is still checked. */
  readonly duplicateKeyProblems: ConfigProblem[];
  private readonly lineStarts: number[];

  private constructor(
    readonly text: string,
    readonly file: string,
  ) {
    const errors: ParseError[] = [];
    this.root = parseTree(text, errors, JSONC_OPTIONS);
    this.lineStarts = computeLineStarts(text);
    this.syntaxProblems = [];
    this.duplicateKeyProblems = [];
    if (text.trim() === '') {
      this.syntaxProblems.push({
        path: [],
        pathText: '',
        severity: 'error',
        message: 'the config file is empty',
        fix: 'write a JSON object with at least "task", "teacher" and "algorithm"',
        range: this.rangeAt(0, 0),
      });
    } else {
      for (const e of errors) {
        const code = printParseErrorCode(e.error);
        this.syntaxProblems.push({
          path: [],
          pathText: '',
          severity: 'error',
          message: `syntax error: ${SYNTAX_MESSAGES[code] ?? code}`,
          range: this.rangeAt(e.offset, e.length),
        });
      }
      if (this.root) this.duplicateKeyProblems = this.findDuplicateKeys(this.root);
    }
    this.value = this.root ? nodeValue(this.root) : undefined;
  }

  static parse(text: string, file: string): ConfigDocument {
    return new ConfigDocument(text, file);
  }

  /** The range of `path`; a missing path maps to its deepest existing ancestor (its key, when it has one). */
  locate(path: readonly (string | number)[], target: RangeTarget = 'auto'): SourceRange {
    if (!this.root) return this.rangeAt(0, Math.min(1, this.text.length));
    let node: Node | undefined;
    let found = path.length;
    for (; found >= 0; found--) {
      node = found === 0 ? this.root : findNodeAtLocation(this.root, path.slice(0, found) as JsonPath);
      if (node) break;
    }
    if (!node) node = this.root;
    const missing = found < path.length;
    const keyNode = node.parent?.type === 'property' ? node.parent.children?.[0] : undefined;
    const isContainer = node.type === 'object' || node.type === 'array';
    if (keyNode && (target === 'key' || missing || (target === 'auto' && isContainer))) {
      return this.rangeAt(keyNode.offset, keyNode.length);
    }
    if (target === 'value' || !isContainer) return this.rangeAt(node.offset, node.length);
    const oneLine = !/[\r\n]/.test(this.text.slice(node.offset, node.offset + node.length));
    return this.rangeAt(node.offset, oneLine ? node.length : 1);
  }

  problem(
    path: readonly (string | number)[],
    message: string,
    opts: { fix?: string; severity?: 'error' | 'warning'; target?: RangeTarget } = {},
  ): ConfigProblem {
    const p: ConfigProblem = {
      path: [...path],
      pathText: pathToText(path),
      message,
      severity: opts.severity ?? 'error',
      range: this.locate(path, opts.target),
    };
    if (opts.fix) p.fix = opts.fix;
    return p;
  }

  /** Whether `path` is written in the file (as opposed to filled by a default). */
  has(path: readonly (string | number)[]): boolean {
    return !!this.root && (path.length === 0 || !!findNodeAtLocation(this.root, path as JsonPath));
  }

  rangeAt(offset: number, length: number): SourceRange {
    // jsonc-parser can report a range past the end (an unclosed comment at the very end counts its
    // missing '*/'); keep every range inside the text, as editors require.
    offset = Math.max(0, Math.min(offset, this.text.length));
    length = Math.max(0, Math.min(length, this.text.length - offset));
    // The last line start ≤ offset, by binary search.
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - this.lineStarts[lo] + 1, offset, length };
  }

  private findDuplicateKeys(node: Node): ConfigProblem[] {
    const out: ConfigProblem[] = [];
    const walk = (n: Node, path: JsonPath): void => {
      if (n.type === 'object') {
        const seen = new Set<string>();
        for (const prop of n.children ?? []) {
          const [key, value] = prop.children ?? [];
          if (!key) continue;
          const name = String(key.value);
          if (seen.has(name)) {
            out.push({
              path: [...path, name],
              pathText: pathToText([...path, name]),
              severity: 'error',
              message: `duplicate field '${name}' (only the last one would count)`,
              fix: 'remove one of them',
              range: this.rangeAt(key.offset, key.length),
            });
          }
          seen.add(name);
          if (value) walk(value, [...path, name]);
        }
      } else if (n.type === 'array') {
        (n.children ?? []).forEach((c, i) => walk(c, [...path, i]));
      }
    };
    walk(node, []);
    return out;
  }
}

/** Like jsonc-parser's getNodeValue, but the last of duplicate keys wins, as in JSON.parse. */
function nodeValue(n: Node): unknown {
  switch (n.type) {
    case 'object': {
      const obj: Record<string, unknown> = {};
      for (const prop of n.children ?? []) {
        const [key, value] = prop.children ?? [];
        if (key && value) obj[String(key.value)] = nodeValue(value);
      }
      return obj;
    }
    case 'array':
      return (n.children ?? []).map(nodeValue);
    default:
      return n.value as unknown;
  }
}

function computeLineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) starts.push(i + 1);
    else if (c === 13 && text.charCodeAt(i + 1) !== 10) starts.push(i + 1);
  }
  return starts;
}

/** Parses JSONC (comments and trailing commas allowed); syntax errors come back as problems. */
export function parseConfigText(text: string, file: string): { config: unknown; problems: ConfigProblem[] } {
  const doc = ConfigDocument.parse(text, file);
  return { config: doc.value, problems: [...doc.syntaxProblems, ...doc.duplicateKeyProblems] };
}

/**
 * The source range of `jsonPath` in `text`. A path that is not written in the text maps to its
 * deepest existing ancestor's key (so a missing field points at the object that should hold it).
 */
export function locate(
  text: string,
  jsonPath: readonly (string | number)[],
  target: RangeTarget = 'auto',
): SourceRange {
  return ConfigDocument.parse(text, '<text>').locate(jsonPath, target);
}
