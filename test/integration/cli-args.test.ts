// The CLI's argument parser (src/cli/args.ts) as a unit, and the top-level help and verb dispatch of
// the real `distillery` command.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { closest, editDistance, Flags, FlagSpec, parseArgs, PositionalSpec } from '../../src/cli/args';
import { UserError } from '../../src/util/errors';
import { ensureCliBuilt, expectUserError, runCli } from '../helpers/run-cli';

const FLAGS: FlagSpec[] = [
  { name: 'text', type: 'string', value: 'TEXT', description: 'the input' },
  { name: 'max-len', type: 'number', value: 'N', description: 'maximum tokens' },
  { name: 'json', type: 'boolean', description: 'print JSON' },
  { name: 'include', type: 'list', value: 'GLOB', description: 'repeatable' },
];
const POSITIONALS: PositionalSpec[] = [
  { name: 'modelDir', description: 'a model' },
  { name: 'outDir', description: 'where to write', optional: true },
];

function parse(argv: string[]): Flags {
  return new Flags(parseArgs(argv, FLAGS, POSITIONALS, 'demo'));
}

/** The UserError `parse(argv)` throws, as the CLI would print it. */
function parseError(argv: string[]): string {
  try {
    parse(argv);
  } catch (e) {
    assert.ok(e instanceof UserError, `expected a UserError, got ${String(e)}`);
    return e.describe();
  }
  return assert.fail(`parse(${JSON.stringify(argv)}) did not throw`);
}

before(() => {
  ensureCliBuilt();
});

test('parseArgs: values by type, in both spellings, with positionals anywhere', () => {
  const f = parse([
    'model',
    '--text',
    'a gripping film',
    '--max-len=16',
    '--json',
    'out',
    '--include',
    'a*',
    '--include=b*',
  ]);
  assert.deepEqual(f.positionals, ['model', 'out']);
  assert.equal(f.string('text'), 'a gripping film');
  assert.equal(f.number('max-len'), 16);
  assert.equal(f.bool('json'), true);
  assert.deepEqual(f.list('include'), ['a*', 'b*']);
  // Accessors of the wrong type, and flags not given.
  assert.equal(f.number('text'), undefined);
  assert.equal(f.string('max-len'), undefined);
  const bare = parse(['model']);
  assert.equal(bare.string('text'), undefined);
  assert.equal(bare.bool('json'), false);
  assert.equal(bare.has('json'), false);
  assert.deepEqual(bare.list('include'), []);
});

test('parseArgs: --no-x, --x=true/false, negative numbers, "-" and "--"', () => {
  assert.equal(parse(['m', '--no-json']).bool('json'), false);
  assert.equal(parse(['m', '--no-json']).has('json'), true, 'given, as false');
  assert.equal(parse(['m', '--json=false']).bool('json'), false);
  assert.equal(parse(['m', '--json=true']).bool('json'), true);
  assert.equal(parse(['m', '--json', '--no-json']).bool('json'), false, 'the last one wins');
  assert.equal(parse(['m', '--max-len', '-3']).number('max-len'), -3, 'a negative number is a value, not a flag');
  assert.equal(parse(['m', '--text=--json']).string('text'), '--json', '--x=value takes any value');
  assert.equal(parse(['m', '--text=']).string('text'), '');
  assert.deepEqual(parse(['-']).positionals, ['-'], '"-" (stdin) is a positional');
  assert.deepEqual(parse(['m', '--', '--json']).positionals, ['m', '--json'], 'after "--" everything is positional');
  assert.equal(parse(['m', '--', '--json']).bool('json'), false);
});

test('parseArgs: unknown flags suggest the closest one; missing and malformed values name the flag', () => {
  let msg = parseError(['m', '--jsn']);
  assert.match(msg, /^--jsn: unknown option/);
  assert.match(msg, /did you mean --json\?/);
  msg = parseError(['m', '--maxlen', '3']);
  assert.match(msg, /did you mean --max-len\?/);
  msg = parseError(['m', '--completely-different']);
  assert.doesNotMatch(msg, /did you mean/);
  assert.match(msg, /distillery demo --help/);
  assert.match(parseError(['m', '-x']), /^-x: unknown option/);
  assert.match(parseError(['m', '--no-text']), /unknown option/, '--no- only negates booleans');

  assert.match(parseError(['m', '--text']), /^--text: needs a value \(TEXT\)/);
  assert.match(
    parseError(['m', '--text', '--json']),
    /^--text: needs a value/,
    'the next flag is not taken as the value',
  );
  assert.match(parseError(['m', '--max-len', 'ten']), /^--max-len: must be a number \(got "ten"\)/);
  assert.match(parseError(['m', '--max-len=']), /^--max-len: must be a number/, 'an empty value is not 0');
  assert.match(parseError(['m', '--json=yes']), /^--json: takes no value/);
});

test('parseArgs: positional counts', () => {
  assert.match(parseError([]), /^missing <modelDir>/);
  assert.match(parseError(['--json']), /missing <modelDir>/);
  assert.match(parseError(['a', 'b', 'c']), /^unexpected argument "c"/);
  assert.deepEqual(parse(['a']).positionals, ['a']);
  assert.deepEqual(parse(['a', 'b']).positionals, ['a', 'b']);
});

test('Flags.integer checks range and integrality, naming the flag', () => {
  assert.equal(parse(['m', '--max-len', '8']).integer('max-len', 2), 8);
  assert.equal(parse(['m']).integer('max-len', 2), undefined);
  assert.throws(
    () => parse(['m', '--max-len', '1']).integer('max-len', 2),
    /--max-len: must be an integer of at least 2 \(got 1\)/,
  );
  assert.throws(() => parse(['m', '--max-len', '2.5']).integer('max-len', 2), /--max-len: must be an integer/);
});

test('closest and editDistance', () => {
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(editDistance('same', 'same'), 0);
  assert.equal(closest('inspcet', ['inspect', 'eval', 'tokenize']), 'inspect');
  assert.equal(closest('evl', ['inspect', 'eval', 'tokenize']), 'eval');
  assert.equal(closest('zzzzzz', ['inspect', 'eval', 'tokenize']), undefined);
});

test('distillery --help lists the verbs; no verb prints usage and exits 2', () => {
  const r = runCli(['--help']);
  assert.equal(r.status, 0, r.stderr);
  for (const verb of ['inspect', 'eval', 'tokenize', 'train', 'export', 'validate', 'demo']) {
    assert.match(r.stdout, new RegExp(`^ {2}${verb} +\\S`, 'm'), `lists ${verb}`);
  }
  const none = runCli([]);
  assert.equal(none.status, 2);
  assert.match(none.stderr, /usage: distillery <verb>/);
  const version = runCli(['--version']);
  assert.equal(version.status, 0);
  assert.match(version.stdout.trim(), /^\d+\.\d+\.\d+$/);
});

test("distillery <verb> --help lists the verb's flags and exits 0", () => {
  const expected: Record<string, string[]> = {
    inspect: ['--text TEXT', '--text-pair TEXT', '--max-len N', '--json', '--backend NAME'],
    eval: [
      '--task NAME',
      '--data DIR',
      '--split SPLIT',
      '--predictions FILE',
      '--batch-size N',
      '--max-len N',
      '--json',
      '--backend NAME',
    ],
    tokenize: ['--vocab FILE', '--model DIR', '--cased', '--max-len N'],
  };
  for (const [verb, flags] of Object.entries(expected)) {
    const r = runCli([verb, '--help']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^usage: distillery ${verb} `, 'm'));
    for (const flag of flags) assert.ok(r.stdout.includes(`  ${flag} `), `${verb} --help lists ${flag}:\n${r.stdout}`);
  }
  assert.match(runCli(['inspect', '-h']).stdout, /--text-pair/);
});

test('unknown verbs and unknown flags of real verbs exit 2 with a suggestion', () => {
  const r = runCli(['inspcet']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown verb "inspcet" \(did you mean "inspect"\?\)/);
  assert.doesNotMatch(r.stderr, /^\s+at /m);

  const err = expectUserError(runCli(['eval', 'model', '--tsak', 'sst2']), 'eval');
  assert.match(err, /--tsak: unknown option/);
  assert.match(err, /did you mean --task\?/);
  assert.match(expectUserError(runCli(['tokenize', 'extra']), 'tokenize'), /unexpected argument "extra"/);
});
