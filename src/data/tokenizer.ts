/**
 * BERT WordPiece tokenizer, token-for-token the same as Hugging Face's slow `BertTokenizer.tokenize`
 * (special-token splitting, per-character lower-casing, BasicTokenizer, WordpieceTokenizer), and
 * id-for-id the same as `BertTokenizerFast` including pair truncation (test/tokenizer-hf-parity),
 * so a teacher fine-tuned in Python sees the same ids here.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../util/errors';
import type { Encoding } from './encoding';

export interface TokenizerOptions {
  lowercase: boolean;
  /** Undefined: follow `lowercase` (HF's `strip_accents=None`). */
  stripAccents?: boolean;
  tokenizeChineseChars: boolean;
  maxInputCharsPerWord: number;
}

export const UNK_TOKEN = '[UNK]';
export const CLS_TOKEN = '[CLS]';
export const SEP_TOKEN = '[SEP]';
export const PAD_TOKEN = '[PAD]';
export const MASK_TOKEN = '[MASK]';
/** HF's `all_special_tokens` for BERT: split out of the text whole, never lower-cased. */
const SPECIAL_TOKENS: readonly string[] = [UNK_TOKEN, SEP_TOKEN, PAD_TOKEN, CLS_TOKEN, MASK_TOKEN];
/** Tokens a usable vocabulary must contain ([MASK] is optional: its id falls back to [UNK], as in HF). */
const REQUIRED_TOKENS: readonly string[] = [UNK_TOKEN, CLS_TOKEN, SEP_TOKEN, PAD_TOKEN];

const DEFAULT_OPTIONS: TokenizerOptions = { lowercase: true, tokenizeChineseChars: true, maxInputCharsPerWord: 100 };

/** Bounds the word → pieces cache so a huge corpus cannot grow it without limit. */
const MAX_CACHED_WORDS = 1 << 18;

// ---------------------------------------------------------------------------------------------
// Character classes, as HF's _is_control / _is_whitespace / _is_punctuation / _is_chinese_char.

const REMOVE = 1; // NUL, U+FFFD, category C* except \t \n \r: dropped by _clean_text
const SPACE = 2; // \t \n \r, Zs (→ space in _clean_text), and U+2028/2029 (Python's str.split splits on them)
const PUNCT = 4; // ASCII 33-47, 58-64, 91-96, 123-126, category P*
const CJK = 8; // _is_chinese_char
const MARK = 16; // category Mn: dropped when stripping accents

const RE_OTHER = /^\p{C}$/u;
const RE_SPACE_SEP = /^\p{Zs}$/u;
const RE_PUNCT = /^\p{P}$/u;
const RE_NONSPACING_MARK = /^\p{Mn}$/u;

function isChineseChar(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

function computeClass(cp: number): number {
  const ch = String.fromCodePoint(cp);
  if (cp === 9 || cp === 10 || cp === 13 || cp === 32 || cp === 0x2028 || cp === 0x2029) return SPACE;
  if (cp === 0 || cp === 0xfffd || RE_OTHER.test(ch)) return REMOVE;
  if (RE_SPACE_SEP.test(ch)) return SPACE;
  let cls = 0;
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126))
    cls |= PUNCT;
  else if (RE_PUNCT.test(ch)) cls |= PUNCT;
  if (isChineseChar(cp)) cls |= CJK;
  if (RE_NONSPACING_MARK.test(ch)) cls |= MARK;
  return cls;
}

// Regex tests per character are slow; classify the BMP once (lazily) and astral chars on demand.
let bmpClasses: Uint8Array | undefined;
const astralClasses = new Map<number, number>();

function bmpTable(): Uint8Array {
  if (!bmpClasses) {
    const table = new Uint8Array(0x10000);
    for (let cp = 0; cp < 0x10000; cp++) {
      // Lone surrogates are category Cs; Python strings read from UTF-8 never hold them.
      table[cp] = cp >= 0xd800 && cp <= 0xdfff ? REMOVE : computeClass(cp);
    }
    bmpClasses = table;
  }
  return bmpClasses;
}

function astralClass(cp: number): number {
  let cls = astralClasses.get(cp);
  if (cls === undefined) {
    cls = computeClass(cp);
    astralClasses.set(cp, cls);
  }
  return cls;
}

/** The code point at `i` of `s` and its length in UTF-16 units (1, or 2 for a surrogate pair). */
function codePointAt(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
    const d = s.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
  }
  return c;
}

function hasNonAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return true;
  return false;
}

function hasSurrogates(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------

export class WordPieceTokenizer {
  readonly options: TokenizerOptions;
  /** Number of vocabulary lines (= embedding rows); HF counts distinct tokens, equal unless there are duplicates. */
  readonly vocabSize: number;
  private readonly tokenIds: Map<string, number>;
  private readonly idTokens: string[];
  private readonly stripAccents: boolean;
  private readonly wordCache = new Map<string, string[]>();

  /**
   * `source` names where the vocabulary came from, for error messages. Duplicate tokens: the later
   * line wins for token → id and the earlier id maps back to [UNK], as HF's dicts do.
   */
  constructor(vocab: string[], opts: Partial<TokenizerOptions> = {}, source = 'vocabulary') {
    if (vocab.length === 0) {
      throw new UserError('the vocabulary is empty', {
        where: source,
        fix: 'use the vocab.txt of the BERT checkpoint (one token per line)',
      });
    }
    this.options = Object.freeze(resolveOptions(opts, source));
    this.stripAccents = this.options.stripAccents ?? this.options.lowercase;
    this.vocabSize = vocab.length;
    this.tokenIds = new Map();
    vocab.forEach((token, id) => this.tokenIds.set(token, id));
    this.idTokens = vocab.map((token, id) => (this.tokenIds.get(token) === id ? token : UNK_TOKEN));
    const missing = REQUIRED_TOKENS.filter((t) => !this.tokenIds.has(t));
    if (missing.length > 0) {
      throw new UserError(
        `the vocabulary lacks the special token${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`,
        {
          where: source,
          fix: 'use the vocab.txt of a BERT checkpoint; it must contain [UNK], [CLS], [SEP] and [PAD]',
        },
      );
    }
  }

  /** Reads a vocab.txt (one token per line, id = line index). Lower-cases by default. */
  static fromVocabFile(file: string, opts: Partial<TokenizerOptions> = {}): WordPieceTokenizer {
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new UserError(
        code === 'ENOENT' ? 'vocabulary file not found' : `cannot read the vocabulary file (${code ?? String(e)})`,
        {
          where: file,
          fix: 'point to the vocab.txt of the BERT checkpoint',
        },
      );
    }
    return new WordPieceTokenizer(parseVocabText(decodeUtf8(bytes, file)), opts, file);
  }

  /**
   * Reads <dir>/vocab.txt; lowercase from tokenizer_config.json `do_lower_case` if present, else
   * true. If only tokenizer.json exists (HF fast tokenizer, WordPiece model), reads the vocab and
   * the normalizer's lowercase/strip_accents from it. Explicit `opts` win over both files.
   */
  static fromModelDir(dir: string, opts: Partial<TokenizerOptions> = {}): WordPieceTokenizer {
    const vocabFile = path.join(dir, 'vocab.txt');
    const fastFile = path.join(dir, 'tokenizer.json');
    const configFile = path.join(dir, 'tokenizer_config.json');
    const fromConfig = fs.existsSync(configFile) ? readTokenizerConfig(configFile) : {};
    if (fs.existsSync(vocabFile)) {
      return WordPieceTokenizer.fromVocabFile(vocabFile, { ...DEFAULT_OPTIONS, ...fromConfig, ...definedOnly(opts) });
    }
    if (fs.existsSync(fastFile)) {
      const fast = readFastTokenizer(fastFile);
      // BertTokenizerFast rebuilds its normalizer from tokenizer_config.json, so that file wins.
      const merged = { ...DEFAULT_OPTIONS, ...fast.options, ...fromConfig, ...definedOnly(opts) };
      return new WordPieceTokenizer(fast.vocab, merged, fastFile);
    }
    throw new UserError('no tokenizer vocabulary found (looked for vocab.txt and tokenizer.json)', {
      where: dir,
      fix: 'copy the vocab.txt (or tokenizer.json) of the BERT checkpoint into this folder',
    });
  }

  get clsId(): number {
    return this.tokenToId(CLS_TOKEN);
  }
  get sepId(): number {
    return this.tokenToId(SEP_TOKEN);
  }
  get padId(): number {
    return this.tokenToId(PAD_TOKEN);
  }
  get unkId(): number {
    return this.tokenToId(UNK_TOKEN);
  }
  /** The [UNK] id when the vocabulary has no [MASK] (as HF's convert_tokens_to_ids). */
  get maskId(): number {
    return this.tokenToId(MASK_TOKEN);
  }

  /** The id of `token`, or the [UNK] id when it is not in the vocabulary. */
  tokenToId(token: string): number {
    const id = this.tokenIds.get(token);
    return id !== undefined ? id : (this.tokenIds.get(UNK_TOKEN) as number);
  }

  /** The token of `id`, or [UNK] for an id outside the vocabulary. */
  idToToken(id: number): string {
    return this.idTokens[id] ?? UNK_TOKEN;
  }

  /** HF's pre-wordpiece stage: special tokens split out whole, then BasicTokenizer on the rest. */
  basicTokenize(text: string): string[] {
    const out: string[] = [];
    this.forEachWord(text, (word, special) => {
      if (special) out.push(word);
      else for (const t of this.basicWord(word)) out.push(t);
    });
    return out;
  }

  /** Word pieces of `text` (HF `BertTokenizer.tokenize`). */
  tokenize(text: string): string[] {
    const out: string[] = [];
    this.forEachWord(text, (word, special) => {
      if (special) {
        out.push(word);
        return;
      }
      let pieces = this.wordCache.get(word);
      if (pieces === undefined) {
        pieces = [];
        for (const t of this.basicWord(word)) for (const p of this.wordPiece(t)) pieces.push(p);
        if (this.wordCache.size >= MAX_CACHED_WORDS) this.wordCache.clear();
        this.wordCache.set(word, pieces);
      }
      for (const p of pieces) out.push(p);
    });
    return out;
  }

  /**
   * `[CLS] a [SEP]` or `[CLS] a [SEP] b [SEP]`, token types 0 then 1 (an empty `textB` is still a
   * pair, as in tokenizers and in transformers' batched calls). With `maxLength`, truncates like
   * BertTokenizerFast's 'longest_first' (Rust tokenizers' truncate_encodings).
   */
  encode(textA: string, textB?: string, maxLength?: number): Encoding {
    let a = this.tokenize(textA);
    let b = textB === undefined ? undefined : this.tokenize(textB);
    if (maxLength !== undefined) {
      const specials = b ? 3 : 2;
      if (!Number.isInteger(maxLength) || maxLength < specials) {
        throw new UserError(
          `maximum sequence length ${maxLength} leaves no room for text: it must be an integer of at least ${specials}`,
          {
            where: 'maxSeqLen',
            fix: 'use a maximum sequence length such as 128',
          },
        );
      }
      const budget = maxLength - specials;
      if (!b) {
        if (a.length > budget) a = a.slice(0, budget);
      } else if (a.length + b.length > budget) {
        const [lenA, lenB] = longestFirstLengths(a.length, b.length, budget);
        a = a.slice(0, lenA);
        b = b.slice(0, lenB);
      }
    }
    const tokens = [CLS_TOKEN, ...a, SEP_TOKEN];
    const tokenTypeIds = new Array<number>(tokens.length).fill(0);
    if (b) {
      tokens.push(...b, SEP_TOKEN);
      for (let i = 0; i <= b.length; i++) tokenTypeIds.push(1);
    }
    return { tokens, inputIds: tokens.map((t) => this.tokenToId(t)), tokenTypeIds };
  }

  // -------------------------------------------------------------------------------------------

  /**
   * Calls `onWord` for each special token (whole, `special` = true) and each whitespace- or
   * CJK-delimited word of the cleaned text between them (control characters removed). This is
   * HF's added-token split, `_clean_text`, `_tokenize_chinese_chars` and `whitespace_tokenize`.
   */
  private forEachWord(text: string, onWord: (word: string, special: boolean) => void): void {
    let pos = 0;
    while (pos < text.length) {
      const next = findSpecialToken(text, pos);
      const end = next ? next.at : text.length;
      this.forEachPlainWord(text, pos, end, onWord);
      if (!next) break;
      onWord(next.token, true);
      pos = next.at + next.token.length;
    }
  }

  private forEachPlainWord(
    text: string,
    from: number,
    to: number,
    onWord: (word: string, special: boolean) => void,
  ): void {
    const table = bmpTable();
    const splitCjk = this.options.tokenizeChineseChars;
    let done = ''; // part of the current word before a removed character
    let runStart = -1; // start of the current run of kept characters
    const flush = (at: number): void => {
      const word = runStart >= 0 ? done + text.slice(runStart, at) : done;
      if (word.length > 0) onWord(word, false);
      done = '';
      runStart = -1;
    };
    let i = from;
    while (i < to) {
      const cp = codePointAt(text, i);
      const width = cp > 0xffff ? 2 : 1;
      const cls = cp > 0xffff ? astralClass(cp) : table[cp];
      if (cls & REMOVE) {
        if (runStart >= 0) done += text.slice(runStart, i);
        runStart = -1;
      } else if (cls & SPACE) {
        flush(i);
      } else if (splitCjk && cls & CJK) {
        flush(i);
        onWord(text.slice(i, i + width), false);
      } else if (runStart < 0) {
        runStart = i;
      }
      i += width;
    }
    flush(to);
  }

  /** Lower-case, strip accents and split punctuation of one whitespace-delimited word. */
  private basicWord(word: string): string[] {
    let w = word;
    if (this.options.lowercase) {
      // HF lower-cases character by character (re.sub with '.+?'), so Σ never becomes final ς.
      w = w.replace(/Σ/g, 'σ').toLowerCase();
    }
    if (this.stripAccents && hasNonAscii(w)) w = removeNonspacingMarks(w.normalize('NFD'));
    // HF's never_split, checked before punctuation splitting. Reachable only without lower-casing,
    // when removing a control character or an accent leaves e.g. "[CLS]".
    if (!this.options.lowercase && SPECIAL_TOKENS.includes(w)) return [w];
    return splitOnPunctuation(w);
  }

  /** Greedy longest-match-first WordPiece over code points; [UNK] when any part has no match. */
  private wordPiece(token: string): string[] {
    const chars = hasSurrogates(token) ? Array.from(token) : undefined;
    const n = chars ? chars.length : token.length;
    if (n > this.options.maxInputCharsPerWord) return [UNK_TOKEN];
    const piece = (s: number, e: number): string => (chars ? chars.slice(s, e).join('') : token.slice(s, e));
    const pieces: string[] = [];
    let start = 0;
    while (start < n) {
      let end = n;
      let match: string | undefined;
      while (start < end) {
        const sub = start > 0 ? '##' + piece(start, end) : piece(start, end);
        if (this.tokenIds.has(sub)) {
          match = sub;
          break;
        }
        end--;
      }
      if (match === undefined) return [UNK_TOKEN];
      pieces.push(match);
      start = end;
    }
    return pieces;
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * The kept lengths of a pair that is `budget` tokens too long together, as tokenizers' LongestFirst
 * computes them: if the shorter fits in half the budget, the longer is cut to the rest; otherwise
 * each gets half, and an odd budget's extra token goes to the longer one (to b on a tie). (The old
 * slow BertTokenizer removed one token at a time and gave an odd extra token to a instead.)
 */
export function longestFirstLengths(lenA: number, lenB: number, budget: number): [number, number] {
  if (lenA + lenB <= budget) return [lenA, lenB];
  const swap = lenA > lenB;
  let n1 = swap ? lenB : lenA; // the shorter
  let n2 = n1 > budget ? n1 : Math.max(n1, budget - n1);
  if (n1 + n2 > budget) {
    n1 = Math.floor(budget / 2);
    n2 = n1 + (budget % 2);
  }
  return swap ? [n2, n1] : [n1, n2];
}

function resolveOptions(opts: Partial<TokenizerOptions>, source: string): TokenizerOptions {
  const o: TokenizerOptions = { ...DEFAULT_OPTIONS, ...definedOnly(opts) };
  if (!Number.isInteger(o.maxInputCharsPerWord) || o.maxInputCharsPerWord < 1) {
    throw new UserError(`maxInputCharsPerWord must be a positive integer, got ${o.maxInputCharsPerWord}`, {
      where: source,
    });
  }
  return o;
}

/** Drops keys whose value is undefined so spreading does not erase defaults. */
function definedOnly(opts: Partial<TokenizerOptions>): Partial<TokenizerOptions> {
  const out: Partial<TokenizerOptions> = {};
  if (opts.lowercase !== undefined) out.lowercase = opts.lowercase;
  if (opts.stripAccents !== undefined) out.stripAccents = opts.stripAccents;
  if (opts.tokenizeChineseChars !== undefined) out.tokenizeChineseChars = opts.tokenizeChineseChars;
  if (opts.maxInputCharsPerWord !== undefined) out.maxInputCharsPerWord = opts.maxInputCharsPerWord;
  return out;
}

/** The leftmost special token at or after `from` (none is a prefix of another, so leftmost is enough). */
function findSpecialToken(text: string, from: number): { at: number; token: string } | undefined {
  let at = text.indexOf('[', from);
  while (at >= 0) {
    for (const token of SPECIAL_TOKENS) if (text.startsWith(token, at)) return { at, token };
    at = text.indexOf('[', at + 1);
  }
  return undefined;
}

function removeNonspacingMarks(s: string): string {
  const table = bmpTable();
  let out = '';
  let runStart = 0;
  let i = 0;
  while (i < s.length) {
    const cp = codePointAt(s, i);
    const width = cp > 0xffff ? 2 : 1;
    const cls = cp > 0xffff ? astralClass(cp) : table[cp];
    if (cls & MARK) {
      out += s.slice(runStart, i);
      runStart = i + width;
    }
    i += width;
  }
  return runStart === 0 ? s : out + s.slice(runStart);
}

/** Each punctuation character becomes its own token (HF `_run_split_on_punc`). */
function splitOnPunctuation(word: string): string[] {
  const table = bmpTable();
  const out: string[] = [];
  let runStart = 0;
  let i = 0;
  while (i < word.length) {
    const cp = codePointAt(word, i);
    const width = cp > 0xffff ? 2 : 1;
    const cls = cp > 0xffff ? astralClass(cp) : table[cp];
    if (cls & PUNCT) {
      if (i > runStart) out.push(word.slice(runStart, i));
      out.push(word.slice(i, i + width));
      runStart = i + width;
    }
    i += width;
  }
  if (runStart === 0) return word.length > 0 ? [word] : [];
  if (runStart < word.length) out.push(word.slice(runStart));
  return out;
}

function decodeUtf8(bytes: Buffer, file: string): string {
  try {
    // ignoreBOM keeps a leading BOM in the first token, as Python's 'utf-8' codec does.
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new UserError('the file is not valid UTF-8', { where: file, fix: 'save the vocabulary as UTF-8' });
  }
}

/** Lines as Python's readlines() in text mode sees them (\n, \r\n and \r all end a line). */
function parseVocabText(text: string): string[] {
  if (text.length === 0) return [];
  const lines = text.split(/\r\n|\r|\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read the file (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { where: file });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new UserError(`invalid JSON: ${(e as Error).message}`, {
      where: file,
      fix: 'restore the file from the original checkpoint',
    });
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optionalBoolean(obj: Record<string, unknown>, key: string, file: string): boolean | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean')
    throw new UserError(`"${key}" must be true or false, got ${JSON.stringify(v)}`, { where: `${file}: ${key}` });
  return v;
}

function readTokenizerConfig(file: string): Partial<TokenizerOptions> {
  const json = readJson(file);
  if (!isRecord(json)) throw new UserError('expected a JSON object', { where: file });
  return definedOnly({
    lowercase: optionalBoolean(json, 'do_lower_case', file),
    stripAccents: optionalBoolean(json, 'strip_accents', file),
    tokenizeChineseChars: optionalBoolean(json, 'tokenize_chinese_chars', file),
  });
}

/** The vocabulary and normalizer settings of an HF fast tokenizer whose model is WordPiece. */
function readFastTokenizer(file: string): { vocab: string[]; options: Partial<TokenizerOptions> } {
  const json = readJson(file);
  const model = isRecord(json) ? json.model : undefined;
  if (!isRecord(model) || model.type !== 'WordPiece' || !isRecord(model.vocab)) {
    const type = isRecord(model) ? JSON.stringify(model.type) : 'missing';
    throw new UserError(`expected a WordPiece model with a vocab (model.type is ${type})`, {
      where: `${file}: model`,
      fix: 'use a BERT checkpoint, or add its vocab.txt beside tokenizer.json',
    });
  }
  const prefix = model.continuing_subword_prefix;
  if (prefix !== undefined && prefix !== null && prefix !== '##') {
    throw new UserError(`unsupported continuing_subword_prefix ${JSON.stringify(prefix)} (only "##")`, {
      where: `${file}: model.continuing_subword_prefix`,
    });
  }
  const entries = Object.entries(model.vocab);
  const vocab = new Array<string | undefined>(entries.length);
  for (const [token, id] of entries) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= entries.length || vocab[id] !== undefined) {
      throw new UserError(
        `token ${JSON.stringify(token)} has id ${JSON.stringify(id)}; ids must be 0..${entries.length - 1}, each used once`,
        {
          where: `${file}: model.vocab`,
        },
      );
    }
    vocab[id] = token;
  }
  const options: Partial<TokenizerOptions> = {};
  const maxChars = model.max_input_chars_per_word;
  if (typeof maxChars === 'number') options.maxInputCharsPerWord = maxChars;
  const normalizer = findBertNormalizer(isRecord(json) ? json.normalizer : undefined);
  if (normalizer) {
    options.lowercase = optionalBoolean(normalizer, 'lowercase', file) ?? true;
    options.stripAccents = optionalBoolean(normalizer, 'strip_accents', file);
    options.tokenizeChineseChars = optionalBoolean(normalizer, 'handle_chinese_chars', file) ?? true;
  } else {
    options.lowercase = false; // no normalizer: the fast tokenizer keeps case
  }
  return { vocab: vocab as string[], options: definedOnly(options) };
}

function findBertNormalizer(n: unknown): Record<string, unknown> | undefined {
  if (!isRecord(n)) return undefined;
  if (n.type === 'BertNormalizer') return n;
  if (n.type === 'Sequence' && Array.isArray(n.normalizers)) {
    for (const inner of n.normalizers) {
      const found = findBertNormalizer(inner);
      if (found) return found;
    }
  }
  return undefined;
}
