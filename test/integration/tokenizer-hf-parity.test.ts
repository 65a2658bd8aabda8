// Our WordPiece tokenizer (src/data/tokenizer.ts, and `distillery tokenize`) against the real
// BertTokenizerFast of transformers (Rust `tokenizers` backend), in one Python process for all
// rows: every dev row of the six GLUE tasks here (single sentences and pairs), untruncated and
// truncated (longest_first), plus hard strings (accents, CJK, control characters, very long words,
// empty text), with bert-base-uncased's vocabulary, a cased vocabulary and all-MiniLM-L6-v2's
// tokenizer folder (tokenizer.json + tokenizer_config.json) when it has been fetched.
//
// The cased vocabulary is made, not downloaded: buildWordPieceVocab (src/data/vocab-builder.ts)
// with lowercase false over the GLUE train sentences, 6000 tokens. It keeps capitals and accented
// letters as their own pieces, so case and accent handling change the ids.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { WordPieceTokenizer, longestFirstLengths } from '../../src/data/tokenizer';
import { buildWordPieceVocab } from '../../src/data/vocab-builder';
import { readGlueSplit } from '../../src/data/glue';
import { GLUE_TASKS, GlueTaskName } from '../../src/data/tasks';
import { BERT_VOCAB, GLUE_DIR, REPO_ROOT } from '../helpers/paths';
import { PYTHON, pythonHas, pythonMissing } from '../helpers/python';
import { ensureCliBuilt, runCli } from '../helpers/run-cli';

const SCRIPT = path.join(REPO_ROOT, 'test', 'reference', 'hf_transformers.py');
const MINILM = path.join(REPO_ROOT, 'models', 'all-minilm-l6-v2');
const TASKS: GlueTaskName[] = ['sst2', 'cola', 'mrpc', 'rte', 'stsb', 'wnli'];
/** Short enough that most pair rows are truncated. */
const TRUNCATE_TO = 24;

type Row = [string, string | null];

/** Strings where BERT tokenizers are easy to get wrong. Each is also paired with the next. */
const HARD: string[] = [
  '',
  ' ',
  '\t\n',
  'Héllo WÖRLD, naïve café — résumé façade Ångström ÉCOLE',
  'Straße İstanbul ΣΊΣΥΦΟΣ σίσυφος ǅemal ﬁne ﬀ Ⅻ ½ ²',
  'ＦＵＬＬ－ＷＩＤＴＨ ｋａｔａｋａｎａ ｶﾀｶﾅ',
  '中文字符测试，混合English和数字123。日本語のテキスト 한국어 텍스트',
  '𠀀𠀁 𪜀 😀👍🏽 👨‍👩‍👧 🇫🇷',
  'control\u0000chars\u0001in\u0007the\u001bmiddle\u007f and \u200bzero\u200cwidth\u200d joiners\ufeff',
  'soft\u00adhyphen non\u00a0breaking\u2009thin\u3000ideographic\u2028line\u2029para',
  'combining e\u0301 a\u0308 n\u0303 o\u0302\u0323 and precomposed é ä ñ',
  'x'.repeat(100),
  'y'.repeat(101),
  'supercalifragilisticexpialidocious'.repeat(4),
  'antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis',
  'punctuation!!! ...?? (brackets) [square] {curly} "quotes" \'single\' «guillemets» „low“ ‘curly’',
  '$100 €50 £3 ¥7 #hash @at %pct ^caret &amp; *star* _under_ +plus= ~tilde` |pipe\\ /slash',
  '[CLS] inside [SEP] text [MASK] and [UNK] [PAD] [cls] [Sep]',
  'email@example.com https://example.org/path?q=1&x=2#frag C++ C# .NET node.js',
  'numbers 3.14159 1,000,000 -42 +7 1e-5 0x1F 2026-12-06 12:30:45',
  'Ελληνικά Русский текст עברית العربية हिन्दी ไทย',
  'tab\tseparated\tvalues and\r\nwindows\rmac line ends',
  'ALL CAPS SENTENCE WITH SOME lower case Mixed CaSe',
  'a',
  '.',
];

interface TokenizeAnswer {
  input_ids: number[][];
  token_type_ids: number[][];
  class: string;
  transformers: string;
}

interface Case {
  name: string;
  tok: WordPieceTokenizer;
  request: Record<string, unknown>;
}

let rows: Row[];
let hardRows: Row[];
let cases: Case[];
let answers: Map<
  string,
  { full: TokenizeAnswer; truncated: TokenizeAnswer; hard: TokenizeAnswer; hardTruncated: TokenizeAnswer }
>;
let casedVocab: string;

function glueRows(): Row[] {
  const out: Row[] = [];
  for (const name of TASKS) {
    const task = GLUE_TASKS[name];
    for (const e of readGlueSplit(task, path.join(GLUE_DIR, task.dirName), 'dev').examples)
      out.push([e.textA, e.textB ?? null]);
  }
  return out;
}

before(() => {
  if (!pythonHas('transformers', 'tokenizers')) return;
  rows = glueRows();
  hardRows = [...HARD.map((s): Row => [s, null]), ...HARD.map((s, i): Row => [s, HARD[(i + 1) % HARD.length]])];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'distillery-tok-parity-'));
  casedVocab = path.join(dir, 'cased-vocab.txt');
  const trainTexts: string[] = [];
  for (const name of TASKS) {
    const task = GLUE_TASKS[name];
    const file = path.join(GLUE_DIR, task.dirName, 'train.tsv');
    if (!fs.existsSync(file)) continue;
    for (const e of readGlueSplit(task, path.join(GLUE_DIR, task.dirName), 'train').examples) {
      trainTexts.push(e.textA);
      if (e.textB) trainTexts.push(e.textB);
    }
  }
  fs.writeFileSync(
    casedVocab,
    buildWordPieceVocab(trainTexts, { maxSize: 6000, lowercase: false, minCount: 2 }).join('\n') + '\n',
  );

  cases = [
    {
      name: 'bert-base-uncased vocab, uncased',
      tok: WordPieceTokenizer.fromVocabFile(BERT_VOCAB, { lowercase: true }),
      request: { vocab: BERT_VOCAB, lowercase: true },
    },
    {
      name: 'bert-base-uncased vocab, cased',
      tok: WordPieceTokenizer.fromVocabFile(BERT_VOCAB, { lowercase: false }),
      request: { vocab: BERT_VOCAB, lowercase: false },
    },
    {
      name: 'made cased vocab, cased',
      tok: WordPieceTokenizer.fromVocabFile(casedVocab, { lowercase: false }),
      request: { vocab: casedVocab, lowercase: false },
    },
  ];
  if (fs.existsSync(path.join(MINILM, 'tokenizer.json'))) {
    cases.push({
      name: 'all-MiniLM-L6-v2 folder',
      tok: WordPieceTokenizer.fromModelDir(MINILM),
      request: { dir: MINILM },
    });
  }
  const requests = cases.flatMap((c) => [
    { op: 'tokenize', ...c.request, rows, max_length: null },
    { op: 'tokenize', ...c.request, rows, max_length: TRUNCATE_TO },
    { op: 'tokenize', ...c.request, rows: hardRows, max_length: null },
    { op: 'tokenize', ...c.request, rows: hardRows, max_length: 12 },
  ]);
  const r = spawnSync(PYTHON, [SCRIPT], { input: JSON.stringify(requests), encoding: 'utf8', maxBuffer: 1 << 30 });
  assert.equal(r.status, 0, `hf_transformers.py failed:\n${r.stderr}`);
  const all = JSON.parse(r.stdout) as TokenizeAnswer[];
  answers = new Map(
    cases.map((c, i) => [
      c.name,
      { full: all[4 * i], truncated: all[4 * i + 1], hard: all[4 * i + 2], hardTruncated: all[4 * i + 3] },
    ]),
  );
});

after(() => {
  if (casedVocab) fs.rmSync(path.dirname(casedVocab), { recursive: true, force: true });
});

/** Rows where our ids or token types differ from HF's, described for the failure message. */
function mismatches(tok: WordPieceTokenizer, input: Row[], want: TokenizeAnswer, maxLength?: number): string[] {
  const bad: string[] = [];
  input.forEach(([a, b], i) => {
    const enc = tok.encode(a, b ?? undefined, maxLength);
    const same =
      JSON.stringify(enc.inputIds) === JSON.stringify(want.input_ids[i]) &&
      JSON.stringify(enc.tokenTypeIds) === JSON.stringify(want.token_type_ids[i]);
    if (!same) {
      bad.push(
        `${JSON.stringify([a, b])}:\n    ours ${JSON.stringify(enc.tokens)} ${JSON.stringify(enc.inputIds)} ${JSON.stringify(enc.tokenTypeIds)}\n    HF   ${JSON.stringify(want.input_ids[i].map((id) => tok.idToToken(id)))} ${JSON.stringify(want.input_ids[i])} ${JSON.stringify(want.token_type_ids[i])}`,
      );
    }
  });
  return bad;
}

function requireReference(): void {
  if (!pythonHas('transformers', 'tokenizers')) assert.fail(pythonMissing('transformers', 'tokenizers'));
}

test('every GLUE dev row (six tasks, pairs included) tokenises exactly as BertTokenizerFast, untruncated and truncated', (t) => {
  requireReference();
  if (!cases.some((c) => c.name.startsWith('all-MiniLM')))
    t.diagnostic(
      `${MINILM} not fetched (bash scripts/fetch-pretrained.sh all-minilm-l6-v2): its tokenizer folder is not compared`,
    );
  assert.ok(rows.length > 4000, `${rows.length} rows`);
  assert.ok(rows.filter((r) => r[1] !== null).length > 2000, 'pair rows');
  for (const c of cases) {
    const a = answers.get(c.name)!;
    assert.equal(
      a.full.class,
      'BertTokenizer',
      'transformers 5: BertTokenizerFast is BertTokenizer (tokenizers backend)',
    );
    const bad = mismatches(c.tok, rows, a.full);
    assert.deepEqual(bad.slice(0, 5), [], `${c.name}: ${bad.length} of ${rows.length} rows differ`);
    const badT = mismatches(c.tok, rows, a.truncated, TRUNCATE_TO);
    assert.deepEqual(badT.slice(0, 5), [], `${c.name}, max_length ${TRUNCATE_TO}: ${badT.length} rows differ`);
    t.diagnostic(
      `${c.name}: ${rows.length} rows × (untruncated, max ${TRUNCATE_TO}) equal to transformers ${a.full.transformers}`,
    );
  }
});

test('hard strings (accents, CJK, emoji, control and zero-width characters, long words, specials, empty) tokenise as BertTokenizerFast', () => {
  requireReference();
  for (const c of cases) {
    const a = answers.get(c.name)!;
    const bad = mismatches(c.tok, hardRows, a.hard);
    assert.deepEqual(bad, [], `${c.name}: ${bad.length} of ${hardRows.length} rows differ`);
    const badT = mismatches(c.tok, hardRows, a.hardTruncated, 12);
    assert.deepEqual(badT, [], `${c.name}, max_length 12: ${badT.length} rows differ`);
  }
});

test('`distillery tokenize` gives the same ids for the GLUE dev rows (one CLI process, pairs as tab-separated lines)', () => {
  requireReference();
  ensureCliBuilt();
  for (const [c, flags] of [
    [cases[0], ['--vocab', BERT_VOCAB]],
    [cases[2], ['--vocab', casedVocab, '--cased']],
  ] as const) {
    const want = answers.get(c.name)!.truncated;
    const r = runCli(['tokenize', ...flags, '--max-len', String(TRUNCATE_TO)], {
      input: rows.map(([a, b]) => (b === null ? a : `${a}\t${b}`)).join('\n') + '\n',
    });
    assert.equal(r.status, 0, r.stderr);
    const got = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { inputIds: number[]; tokenTypeIds: number[] });
    assert.equal(got.length, rows.length);
    const bad = got
      .map((g, i) =>
        JSON.stringify([g.inputIds, g.tokenTypeIds]) === JSON.stringify([want.input_ids[i], want.token_type_ids[i]])
          ? -1
          : i,
      )
      .filter((i) => i >= 0);
    assert.deepEqual(
      bad.slice(0, 5).map((i) => rows[i]),
      [],
      `${c.name}: ${bad.length} rows differ`,
    );
  }
});

test('longestFirstLengths: the shorter segment is kept whole when it fits in half, else halves with the odd token to the longer', () => {
  assert.deepEqual(longestFirstLengths(6, 4, 6), [3, 3]);
  assert.deepEqual(longestFirstLengths(6, 2, 6), [4, 2]);
  assert.deepEqual(longestFirstLengths(24, 27, 21), [10, 11], 'odd budget: the longer (b) gets the extra token');
  assert.deepEqual(longestFirstLengths(27, 24, 21), [11, 10], 'odd budget: the longer (a) gets the extra token');
  assert.deepEqual(longestFirstLengths(20, 20, 21), [10, 11], 'a tie: b gets it');
  assert.deepEqual(longestFirstLengths(30, 40, 0), [0, 0]);
  assert.deepEqual(longestFirstLengths(3, 4, 9), [3, 4], 'fits: unchanged');
});
