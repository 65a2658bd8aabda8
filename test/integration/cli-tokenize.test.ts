// `distillery tokenize`, run as a user runs it: lines (and tab-separated pairs) on stdin, JSON lines
// out, with the bert-base-uncased vocabulary; --model, --max-len, --cased; whole GLUE files.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BERT_VOCAB, GLUE_DIR } from '../helpers/paths';
import { CLI_BIN, ensureCliBuilt, expectUserError, runCli } from '../helpers/run-cli';

interface TokenizedLine {
  tokens: string[];
  inputIds: number[];
  tokenTypeIds: number[];
}

let tmp: string;

before(() => {
  ensureCliBuilt();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distillery-cli-tokenize-'));
});

after(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function tokenize(input: string, args: string[]): TokenizedLine[] {
  const r = runCli(['tokenize', ...args], { input });
  assert.equal(r.status, 0, `distillery tokenize ${args.join(' ')} failed:\n${r.stderr}`);
  assert.ok(r.stdout.endsWith('\n') || r.stdout === '', 'every JSON line ends with a newline');
  return r.stdout
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as TokenizedLine);
}

/** The first column of a GLUE SST-2 file, without its header. */
function sst2Sentences(file: string): string[] {
  const lines = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .slice(1);
  return lines.map((l) => l.split('\t')[0]);
}

test('tokenize: lines and tab-separated pairs give bert-base-uncased ids', () => {
  const input = ['Hello, world!', 'the cat\tsat down', 'unaffable', '', 'Crème brûlée\r'].join('\n') + '\n';
  const out = tokenize(input, ['--vocab', BERT_VOCAB]);
  assert.equal(out.length, 5, 'one JSON line per input line, the empty one included');
  assert.deepEqual(out[0], {
    tokens: ['[CLS]', 'hello', ',', 'world', '!', '[SEP]'],
    inputIds: [101, 7592, 1010, 2088, 999, 102],
    tokenTypeIds: [0, 0, 0, 0, 0, 0],
  });
  assert.deepEqual(out[1], {
    tokens: ['[CLS]', 'the', 'cat', '[SEP]', 'sat', 'down', '[SEP]'],
    inputIds: [101, 1996, 4937, 102, 2938, 2091, 102],
    tokenTypeIds: [0, 0, 0, 0, 1, 1, 1],
  });
  // The WordPiece example of Hugging Face's BertTokenizer documentation.
  assert.deepEqual(out[2].tokens, ['[CLS]', 'una', '##ffa', '##ble', '[SEP]']);
  assert.deepEqual(out[2].inputIds, [101, 14477, 20961, 3468, 102]);
  assert.deepEqual(out[3].inputIds, [101, 102]);
  // Uncased strips accents; a Windows line ending does not become a token.
  assert.equal(out[4].tokens.join(' ').replace(/ ##/g, ''), '[CLS] creme brulee [SEP]');
});

test('tokenize --max-len truncates single lines and pairs (longest first)', () => {
  const out = tokenize('Hello, world!\nthe cat sat on the mat\tit ran\n', ['--vocab', BERT_VOCAB, '--max-len', '6']);
  assert.deepEqual(out[0].inputIds, [101, 7592, 1010, 2088, 999, 102], 'fits exactly');
  // 6 tokens in all: the longer segment loses a token at a time, the second one on ties.
  assert.deepEqual(out[1].tokens, ['[CLS]', 'the', 'cat', '[SEP]', 'it', '[SEP]']);
  assert.deepEqual(out[1].tokenTypeIds, [0, 0, 0, 0, 1, 1]);
  const four = tokenize('Hello, world!\n', ['--vocab', BERT_VOCAB, '--max-len', '4']);
  assert.deepEqual(four[0].inputIds, [101, 7592, 1010, 102]);
  const pair = tokenize('the cat sat on the mat\tit ran\n', ['--vocab', BERT_VOCAB, '--max-len', '7']);
  assert.deepEqual(pair[0].tokens, ['[CLS]', 'the', 'cat', '[SEP]', 'it', 'ran', '[SEP]']);
  assert.deepEqual(pair[0].tokenTypeIds, [0, 0, 0, 0, 1, 1, 1]);
});

test("tokenize --model reads the folder's vocab.txt and tokenizer_config.json; --cased keeps case", () => {
  const model = path.join(tmp, 'cased-model');
  fs.mkdirSync(model);
  fs.copyFileSync(BERT_VOCAB, path.join(model, 'vocab.txt'));
  fs.writeFileSync(path.join(model, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: false }));
  // bert-base-uncased has no capitalised words: a cased tokenizer falls back to [UNK] for them.
  const cased = tokenize('Hello world\n', ['--model', model]);
  assert.deepEqual(cased[0].tokens, ['[CLS]', '[UNK]', 'world', '[SEP]']);
  assert.deepEqual(cased[0].inputIds, [101, 100, 2088, 102]);
  const viaVocab = tokenize('Hello world\n', ['--vocab', BERT_VOCAB, '--cased']);
  assert.deepEqual(viaVocab[0].inputIds, [101, 100, 2088, 102]);
  // An explicit --no-cased overrides the folder's do_lower_case.
  assert.deepEqual(tokenize('Hello world\n', ['--model', model, '--no-cased'])[0].inputIds, [101, 7592, 2088, 102]);

  fs.writeFileSync(path.join(model, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: true }));
  assert.deepEqual(tokenize('Hello world\n', ['--model', model])[0].inputIds, [101, 7592, 2088, 102]);
});

test('tokenize the whole SST-2 dev file: 872 JSON lines, in order', () => {
  const sentences = sst2Sentences(path.join(GLUE_DIR, 'SST-2', 'dev.tsv'));
  assert.equal(sentences.length, 872);
  const out = tokenize(sentences.join('\n') + '\n', ['--vocab', BERT_VOCAB]);
  assert.equal(out.length, 872);
  // "it 's a charming and often affecting journey . ", ids looked up in the vocabulary by hand.
  assert.deepEqual(out[0].inputIds, [101, 2009, 1005, 1055, 1037, 11951, 1998, 2411, 12473, 4990, 1012, 102]);
  for (const [i, line] of out.entries()) {
    assert.equal(line.inputIds[0], 101, `line ${i + 1} starts with [CLS]`);
    assert.equal(line.inputIds[line.inputIds.length - 1], 102, `line ${i + 1} ends with [SEP]`);
    assert.equal(line.tokens.length, line.inputIds.length);
    assert.ok(line.tokenTypeIds.every((t) => t === 0));
  }
  // Line i is sentence i: its word pieces, glued back together, spell the sentence (ASCII lines
  // without [UNK], where lower-casing is the only change).
  let compared = 0;
  out.forEach((line, i) => {
    const sentence = sentences[i];
    if (!/^[\x20-\x7e]*$/.test(sentence) || line.tokens.includes('[UNK]')) return;
    const spelled = line.tokens
      .slice(1, -1)
      .map((t) => t.replace(/^##/, ''))
      .join('');
    assert.equal(spelled, sentence.toLowerCase().replace(/\s+/g, ''), `line ${i + 1}`);
    compared++;
  });
  assert.ok(compared > 800, `compared ${compared} lines`);
});

test('tokenize the whole SST-2 train file (67k lines)', (t) => {
  const sentences = sst2Sentences(path.join(GLUE_DIR, 'SST-2', 'train.tsv'));
  const input = sentences.join('\n') + '\n';
  const r = runCli(['tokenize', '--vocab', BERT_VOCAB], { input });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.equal(lines.pop(), '');
  assert.equal(lines.length, sentences.length);
  assert.equal(lines.length, 67349);
  const last = JSON.parse(lines[lines.length - 1]) as TokenizedLine;
  assert.equal(last.inputIds[0], 101);
  t.diagnostic(
    `tokenized ${lines.length} lines in ${r.ms} ms (${Math.round(lines.length / (r.ms / 1000))} lines/s, process start included)`,
  );
});

test('tokenize into a reader that stops early (| head -1) ends quietly with exit 0', async () => {
  const input = sst2Sentences(path.join(GLUE_DIR, 'SST-2', 'train.tsv')).join('\n') + '\n';
  const child = spawn(process.execPath, [CLI_BIN, 'tokenize', '--vocab', BERT_VOCAB], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  child.stdin.on('error', () => undefined); // the child may stop reading before all of it is sent
  child.stdin.end(input);
  const firstLine = await new Promise<string>((resolve) => {
    let got = '';
    child.stdout.setEncoding('utf8').on('data', function onData(d: string) {
      got += d;
      const nl = got.indexOf('\n');
      if (nl >= 0) {
        child.stdout.off('data', onData);
        child.stdout.destroy(); // what `head -1` does after its line
        resolve(got.slice(0, nl));
      }
    });
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  assert.equal((JSON.parse(firstLine) as TokenizedLine).inputIds[0], 101);
  assert.equal(code, 0, `exit code ${code}, stderr:\n${stderr}`);
  assert.doesNotMatch(stderr, /EPIPE|^\s+at /m);
});

test('tokenize: user errors exit 2', () => {
  let err = expectUserError(runCli(['tokenize'], { input: 'hi\n' }), 'tokenize');
  assert.match(err, /--vocab FILE or --model DIR/);
  err = expectUserError(runCli(['tokenize', '--vocab', BERT_VOCAB, '--model', tmp], { input: 'hi\n' }), 'tokenize');
  assert.match(err, /exactly one/);
  const missing = path.join(tmp, 'no-vocab.txt');
  err = expectUserError(runCli(['tokenize', '--vocab', missing], { input: 'hi\n' }), 'tokenize');
  assert.ok(err.includes(missing), err);
  err = expectUserError(runCli(['tokenize', '--vocab', BERT_VOCAB, '--max-len', '1'], { input: 'hi\n' }), 'tokenize');
  assert.match(err, /--max-len/);
  // A pair needs three special tokens; the message names the line.
  const r = runCli(['tokenize', '--vocab', BERT_VOCAB, '--max-len', '2'], { input: 'one\ntwo\tthree\n' });
  err = expectUserError(r, 'tokenize');
  assert.match(err, /stdin:2/);
  assert.equal(r.stdout.split('\n').filter(Boolean).length, 1, 'the lines before it were written');
});
