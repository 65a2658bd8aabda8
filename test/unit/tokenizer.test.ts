import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { WordPieceTokenizer } from '../../src/data/tokenizer';
import { UserError } from '../../src/util/errors';
import { BERT_VOCAB, GLUE_DIR } from '../helpers/paths';

// Expected ids below were looked up in bert-base-uncased-vocab.txt (id = line number - 1).
const bert = WordPieceTokenizer.fromVocabFile(BERT_VOCAB);

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'distillery-tokenizer-'));
}

/** The toy vocabulary of Hugging Face's own BertTokenizer tests. */
const HF_TOY_VOCAB = [
  '[UNK]',
  '[CLS]',
  '[SEP]',
  '[PAD]',
  '[MASK]',
  'want',
  '##want',
  '##ed',
  'wa',
  'un',
  'runn',
  '##ing',
  ',',
  'low',
  'lowest',
];

function assertUserError(fn: () => unknown, ...mentions: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UserError, `expected a UserError, got ${String(e)}`);
    for (const m of mentions) assert.ok(e.message.includes(m), `"${e.message}" should mention "${m}"`);
    return true;
  });
}

test('HF toy vocabulary: full tokenizer (test_full_tokenizer)', () => {
  const dir = tempDir();
  const file = path.join(dir, 'vocab.txt');
  fs.writeFileSync(file, HF_TOY_VOCAB.map((t) => t + '\n').join(''));
  const tok = WordPieceTokenizer.fromVocabFile(file);
  const tokens = tok.tokenize('UNwant\u00E9d,running');
  assert.deepEqual(tokens, ['un', '##want', '##ed', ',', 'runn', '##ing']);
  assert.deepEqual(
    tokens.map((t) => tok.tokenToId(t)),
    [9, 6, 7, 12, 10, 11],
  );
  // test_wordpiece_tokenizer: one unmatched piece makes the whole word [UNK]
  assert.deepEqual(tok.tokenize(''), []);
  assert.deepEqual(tok.tokenize('unwanted running'), ['un', '##want', '##ed', 'runn', '##ing']);
  assert.deepEqual(tok.tokenize('unwantedX running'), ['[UNK]', 'runn', '##ing']);
  // test_clean_text: a lone soft hyphen (category Cf) vanishes
  assert.deepEqual(
    ['Test', '\xad', 'test'].map((t) => tok.tokenize(t)),
    [['[UNK]'], [], ['[UNK]']],
  );
  fs.rmSync(dir, { recursive: true });
});

test('basic tokenizer: lower-casing and accent stripping (HF test_basic_tokenizer_*)', () => {
  const lower = new WordPieceTokenizer(HF_TOY_VOCAB);
  assert.deepEqual(lower.basicTokenize(' \tHeLLo!how  \n Are yoU?  '), ['hello', '!', 'how', 'are', 'you', '?']);
  assert.deepEqual(lower.basicTokenize('H\u00E9llo'), ['hello']);
  assert.deepEqual(lower.basicTokenize(' \tHäLLo!how  \n Are yoU?  '), ['hallo', '!', 'how', 'are', 'you', '?']);

  const lowerKeepAccents = new WordPieceTokenizer(HF_TOY_VOCAB, { lowercase: true, stripAccents: false });
  assert.deepEqual(lowerKeepAccents.basicTokenize(' \tHäLLo!how  \n Are yoU?  '), [
    'hällo',
    '!',
    'how',
    'are',
    'you',
    '?',
  ]);
  assert.deepEqual(lowerKeepAccents.basicTokenize('H\u00E9llo'), ['h\u00E9llo']);

  const lowerStrip = new WordPieceTokenizer(HF_TOY_VOCAB, { lowercase: true, stripAccents: true });
  assert.deepEqual(lowerStrip.basicTokenize(' \tHäLLo!how  \n Are yoU?  '), ['hallo', '!', 'how', 'are', 'you', '?']);

  const cased = new WordPieceTokenizer(HF_TOY_VOCAB, { lowercase: false });
  assert.equal(cased.options.lowercase, false);
  assert.deepEqual(cased.basicTokenize(' \tHeLLo!how  \n Are yoU?  '), ['HeLLo', '!', 'how', 'Are', 'yoU', '?']);
  assert.deepEqual(cased.basicTokenize(' \tHäLLo!how  \n Are yoU?  '), ['HäLLo', '!', 'how', 'Are', 'yoU', '?']);
  assert.deepEqual(cased.basicTokenize(' \tHeLLo!how  \n Are yoU? [UNK]'), [
    'HeLLo',
    '!',
    'how',
    'Are',
    'yoU',
    '?',
    '[UNK]',
  ]);

  const casedStrip = new WordPieceTokenizer(HF_TOY_VOCAB, { lowercase: false, stripAccents: true });
  assert.deepEqual(casedStrip.basicTokenize(' \tHäLLo!how  \n Are yoU?  '), ['HaLLo', '!', 'how', 'Are', 'yoU', '?']);
});

test('basic tokenizer: punctuation, control characters, Unicode whitespace, CJK', () => {
  const tok = new WordPieceTokenizer(HF_TOY_VOCAB);
  assert.deepEqual(tok.basicTokenize("a\n'll !!to?'d of, can't."), [
    'a',
    "'",
    'll',
    '!',
    '!',
    'to',
    '?',
    "'",
    'd',
    'of',
    ',',
    'can',
    "'",
    't',
    '.',
  ]);
  // Left-to-right / right-to-left marks are category Cf: removed
  assert.deepEqual(tok.basicTokenize('\u200E\u200F'), []);
  // NUL, U+FFFD and zero-width space are dropped without splitting the word
  assert.deepEqual(tok.basicTokenize('a\u0000b\uFFFDc\u200Bd'), ['abcd']);
  // no-break space, ideographic space (Zs), tab, CR and U+2028 (Python's str.split) all separate words
  assert.deepEqual(tok.basicTokenize('a\u00A0b\u3000c\td\re\u2028f'), ['a', 'b', 'c', 'd', 'e', 'f']);
  // Unicode punctuation (category P*) and ASCII symbols such as $ and ` split; other symbols do not
  assert.deepEqual(tok.basicTokenize('\u00BFqu\u00E9?\u2014x$y`z\u00A9'), [
    '\u00BF',
    'que',
    '?',
    '\u2014',
    'x',
    '$',
    'y',
    '`',
    'z\u00A9',
  ]);
  // test_chinese
  assert.deepEqual(tok.basicTokenize('ah\u535A\u63A8zz'), ['ah', '\u535A', '\u63A8', 'zz']);
  const noCjk = new WordPieceTokenizer(HF_TOY_VOCAB, { tokenizeChineseChars: false });
  assert.deepEqual(noCjk.basicTokenize('ah\u535A\u63A8zz'), ['ah\u535A\u63A8zz']);
});

test('real vocab: "Hello, world!" encodes to the bert-base-uncased ids', () => {
  assert.equal(bert.vocabSize, 30522);
  assert.deepEqual([bert.padId, bert.unkId, bert.clsId, bert.sepId, bert.maskId], [0, 100, 101, 102, 103]);
  const enc = bert.encode('Hello, world!');
  assert.deepEqual(enc.tokens, ['[CLS]', 'hello', ',', 'world', '!', '[SEP]']);
  assert.deepEqual(enc.inputIds, [101, 7592, 1010, 2088, 999, 102]);
  assert.deepEqual(enc.tokenTypeIds, [0, 0, 0, 0, 0, 0]);
});

test('real vocab: word pieces, accents, special tokens in text', () => {
  const unaffable = bert.tokenize('unaffable');
  assert.deepEqual(unaffable, ['una', '##ffa', '##ble']);
  assert.deepEqual(
    unaffable.map((t) => bert.tokenToId(t)),
    [14477, 20961, 3468],
  );
  // HF test_offsets_with_special_characters (uncased): [MASK] survives lower-casing, ï loses its accent
  const sentence = bert.tokenize('A, naïve [MASK] AllenNLP sentence.');
  assert.deepEqual(sentence, ['a', ',', 'naive', '[MASK]', 'allen', '##nl', '##p', 'sentence', '.']);
  assert.deepEqual(
    sentence.map((t) => bert.tokenToId(t)),
    [1037, 1010, 15743, 103, 5297, 20554, 2361, 6251, 1012],
  );
  // Special tokens are split out even inside a word; a lower-case "[cls]" is ordinary text.
  assert.deepEqual(bert.tokenize('hello[CLS]world [SEP] [cls]'), [
    'hello',
    '[CLS]',
    'world',
    '[SEP]',
    '[',
    'cl',
    '##s',
    ']',
  ]);
  // HF lower-cases character by character, so a word-final capital sigma becomes σ, not ς:
  assert.deepEqual(bert.tokenize('ΟΔΟΣ'), ['ο', '##δ', '##ο', '##σ']);
  assert.deepEqual(bert.tokenize('οδος'), ['ο', '##δ', '##ος']);
  // An emoji is not in the vocabulary
  assert.deepEqual(bert.encode('I love \u{1F600} pizza').inputIds, [101, 1045, 2293, 100, 10733, 102]);
});

test('real vocab: CJK characters become separate words unless tokenizeChineseChars is off', () => {
  // HF test_change_tokenize_chinese_chars
  assert.deepEqual(bert.tokenize('的人有'), ['的', '人', '有']);
  assert.deepEqual(
    bert.tokenize('的人有').map((t) => bert.tokenToId(t)),
    [1916, 1756, 1873],
  );
  const noCjk = WordPieceTokenizer.fromVocabFile(BERT_VOCAB, { tokenizeChineseChars: false });
  assert.deepEqual(noCjk.tokenize('的人有'), ['的', '##人', '##有']);
  assert.deepEqual(
    noCjk.tokenize('的人有').map((t) => noCjk.tokenToId(t)),
    [1916, 30282, 30399],
  );
});

test('real vocab: words over maxInputCharsPerWord (100) become [UNK]', () => {
  const hundred = bert.tokenize('a'.repeat(100));
  assert.equal(hundred[0], 'aaa');
  assert.equal(hundred.length, 50); // aaa + 48 × ##aa + ##a
  assert.equal(hundred.at(-1), '##a');
  assert.deepEqual(bert.tokenize('a'.repeat(101)), ['[UNK]']);
  // length is counted in code points, not UTF-16 units
  // (U+1D49C, mathematical script A, is one code point but two UTF-16 units)
  const script = new WordPieceTokenizer(
    ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'cat', '##s', '\u{1D49C}\u{1D49C}', '##\u{1D49C}'],
    {
      lowercase: false,
      maxInputCharsPerWord: 3,
    },
  );
  assert.deepEqual(script.tokenize('cat \u{1D49C}\u{1D49C}\u{1D49C} \u{1D49C}\u{1D49C}\u{1D49C}\u{1D49C}'), [
    'cat',
    '\u{1D49C}\u{1D49C}',
    '##\u{1D49C}',
    '[UNK]',
  ]);
  assert.deepEqual(script.tokenize('cats'), ['[UNK]']);
});

test('encode: sentence pairs get token types 0 then 1', () => {
  const enc = bert.encode('the cat sat on the mat', 'a dog barked loudly');
  assert.deepEqual(enc.tokens, [
    '[CLS]',
    'the',
    'cat',
    'sat',
    'on',
    'the',
    'mat',
    '[SEP]',
    'a',
    'dog',
    'barked',
    'loudly',
    '[SEP]',
  ]);
  assert.deepEqual(enc.inputIds, [101, 1996, 4937, 2938, 2006, 1996, 13523, 102, 1037, 3899, 17554, 9928, 102]);
  assert.deepEqual(enc.tokenTypeIds, [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
  // An empty second text is still a pair, as in HF (text_pair="")
  assert.deepEqual(bert.encode('hello', '').tokens, ['[CLS]', 'hello', '[SEP]', '[SEP]']);
  assert.deepEqual(bert.encode('hello', '').tokenTypeIds, [0, 0, 0, 1]);
});

test('encode: longest-first truncation', () => {
  // 6 + 4 tokens, budget 9 - 3 = 6: drop from a (6>4), a (5>4), b on the tie (4=4), a (4>3) → 3 + 3.
  const pair = bert.encode('the cat sat on the mat', 'a dog barked loudly', 9);
  assert.deepEqual(pair.tokens, ['[CLS]', 'the', 'cat', 'sat', '[SEP]', 'a', 'dog', 'barked', '[SEP]']);
  assert.deepEqual(pair.tokenTypeIds, [0, 0, 0, 0, 0, 1, 1, 1, 1]);
  // The shorter segment is untouched while the longer one is still longer.
  const lopsided = bert.encode('the cat sat on the mat', 'a dog', 7);
  assert.deepEqual(lopsided.tokens, ['[CLS]', 'the', 'cat', '[SEP]', 'a', 'dog', '[SEP]']);
  // Single text: cut from the end.
  const single = bert.encode('The movie was not good.', undefined, 5);
  assert.deepEqual(single.tokens, ['[CLS]', 'the', 'movie', 'was', '[SEP]']);
  assert.deepEqual(single.inputIds, [101, 1996, 3185, 2001, 102]);
  // Fits already: unchanged; exactly the specials: empty segments.
  assert.equal(bert.encode('The movie was not good.', undefined, 8).tokens.length, 8);
  assert.deepEqual(bert.encode('the cat', 'a dog', 3).tokens, ['[CLS]', '[SEP]', '[SEP]']);
  assertUserError(() => bert.encode('the cat', 'a dog', 2), 'at least 3');
  assertUserError(() => bert.encode('the cat', undefined, 1), 'at least 2');
});

test('ids and tokens: round trip, [UNK] fallbacks', () => {
  assert.equal(bert.idToToken(7592), 'hello');
  assert.equal(bert.tokenToId('hello'), 7592);
  assert.equal(bert.tokenToId('no-such-token'), 100);
  assert.equal(bert.idToToken(30522), '[UNK]');
  assert.equal(bert.idToToken(-1), '[UNK]');
  for (const id of [0, 1, 999, 1996, 30521]) assert.equal(bert.tokenToId(bert.idToToken(id)), id);
});

test('vocab file parsing: CRLF lines, duplicates (later line wins), no [MASK]', () => {
  const dir = tempDir();
  const file = path.join(dir, 'vocab.txt');
  fs.writeFileSync(file, '[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nhello\r\nworld\r\nhello\r\n');
  const tok = WordPieceTokenizer.fromVocabFile(file);
  assert.equal(tok.vocabSize, 7);
  assert.equal(tok.tokenToId('hello'), 6);
  assert.equal(tok.idToToken(6), 'hello');
  assert.equal(tok.idToToken(4), '[UNK]'); // HF's ids_to_tokens only keeps the later id
  assert.equal(tok.tokenToId('world'), 5);
  assert.equal(tok.maskId, tok.unkId); // HF: a missing token converts to the [UNK] id
  assert.deepEqual(tok.encode('Hello world').inputIds, [2, 6, 5, 3]);
  fs.rmSync(dir, { recursive: true });
});

test('vocab errors: missing file, empty file, missing [UNK]', () => {
  const dir = tempDir();
  const missing = path.join(dir, 'nope.txt');
  assertUserError(() => WordPieceTokenizer.fromVocabFile(missing), missing, 'not found');
  const empty = path.join(dir, 'empty.txt');
  fs.writeFileSync(empty, '');
  assertUserError(() => WordPieceTokenizer.fromVocabFile(empty), empty, 'empty');
  const noUnk = path.join(dir, 'no-unk.txt');
  fs.writeFileSync(noUnk, '[PAD]\n[CLS]\n[SEP]\nhello\n');
  assertUserError(() => WordPieceTokenizer.fromVocabFile(noUnk), noUnk, '[UNK]');
  assertUserError(() => new WordPieceTokenizer(['[PAD]', '[UNK]']), '[CLS]', '[SEP]');
  const notUtf8 = path.join(dir, 'latin1.txt');
  fs.writeFileSync(notUtf8, Buffer.from([0x5b, 0x55, 0x4e, 0x4b, 0x5d, 0x0a, 0xe9, 0x0a]));
  assertUserError(() => WordPieceTokenizer.fromVocabFile(notUtf8), notUtf8, 'UTF-8');
  fs.rmSync(dir, { recursive: true });
});

test('fromModelDir: vocab.txt with tokenizer_config.json, tokenizer.json only, nothing', () => {
  const vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'hello', 'Hello'];

  const plain = tempDir();
  fs.writeFileSync(path.join(plain, 'vocab.txt'), vocab.join('\n') + '\n');
  assert.equal(WordPieceTokenizer.fromModelDir(plain).options.lowercase, true);
  assert.deepEqual(WordPieceTokenizer.fromModelDir(plain).tokenize('Hello'), ['hello']);
  fs.writeFileSync(
    path.join(plain, 'tokenizer_config.json'),
    JSON.stringify({ do_lower_case: false, model_max_length: 512 }),
  );
  assert.deepEqual(WordPieceTokenizer.fromModelDir(plain).tokenize('Hello'), ['Hello']);
  assert.deepEqual(WordPieceTokenizer.fromModelDir(plain, { lowercase: true }).tokenize('Hello'), ['hello']);
  fs.writeFileSync(path.join(plain, 'tokenizer_config.json'), '{ "do_lower_case": ');
  assertUserError(() => WordPieceTokenizer.fromModelDir(plain), 'tokenizer_config.json', 'invalid JSON');
  fs.writeFileSync(path.join(plain, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: 'yes' }));
  assertUserError(() => WordPieceTokenizer.fromModelDir(plain), 'do_lower_case');

  const fast = tempDir();
  const fastJson = {
    version: '1.0',
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: false,
    },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocab.map((t, i) => [t, i])),
    },
  };
  fs.writeFileSync(path.join(fast, 'tokenizer.json'), JSON.stringify(fastJson));
  const fromFast = WordPieceTokenizer.fromModelDir(fast);
  assert.equal(fromFast.options.lowercase, false);
  assert.equal(fromFast.vocabSize, 7);
  assert.deepEqual(fromFast.encode('Hello').inputIds, [2, 6, 3]);
  fastJson.normalizer.lowercase = true;
  fs.writeFileSync(path.join(fast, 'tokenizer.json'), JSON.stringify(fastJson));
  assert.deepEqual(WordPieceTokenizer.fromModelDir(fast).encode('Hello').inputIds, [2, 5, 3]);
  fs.writeFileSync(
    path.join(fast, 'tokenizer.json'),
    JSON.stringify({ model: { type: 'BPE', vocab: {}, merges: [] } }),
  );
  assertUserError(() => WordPieceTokenizer.fromModelDir(fast), 'WordPiece');

  const none = tempDir();
  assertUserError(() => WordPieceTokenizer.fromModelDir(none), none, 'vocab.txt', 'tokenizer.json');
  for (const d of [plain, fast, none]) fs.rmSync(d, { recursive: true });
});

test('SST-2 train: every sentence tokenises', (t) => {
  const lines = fs.readFileSync(path.join(GLUE_DIR, 'SST-2', 'train.tsv'), 'utf8').split('\n');
  assert.equal(lines[0], 'sentence\tlabel');
  const sentences = lines
    .slice(1)
    .filter((l) => l.length > 0)
    .map((l) => l.split('\t')[0]);
  const tok = WordPieceTokenizer.fromVocabFile(BERT_VOCAB); // fresh, so the word cache starts empty
  const start = performance.now();
  let count = 0;
  let totalTokens = 0;
  let unknown = 0;
  for (const s of sentences) {
    const enc = tok.encode(s);
    totalTokens += enc.inputIds.length;
    for (const id of enc.inputIds) {
      assert.ok(id >= 0 && id < tok.vocabSize);
      if (id === tok.unkId) unknown++;
    }
    count++;
  }
  const ms = performance.now() - start;
  t.diagnostic(`SST-2 train: ${count} sentences, ${totalTokens} tokens (${unknown} [UNK]) in ${ms.toFixed(0)} ms`);
  assert.equal(count, 67349);
  assert.ok(unknown < totalTokens / 1000, `too many [UNK]: ${unknown}`);
  // the first row, ids looked up in the vocab file
  assert.deepEqual(tok.encode(sentences[0]).inputIds, [101, 5342, 2047, 3595, 8496, 2013, 1996, 18643, 3197, 102]);
});
