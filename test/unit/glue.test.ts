import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { glueSplitFile, readGlueSplit } from '../../src/data/glue';
import type { Dataset } from '../../src/data/examples';
import { GLUE_TASKS, type Split, type TaskSpec } from '../../src/data/tasks';
import { UserError } from '../../src/util/errors';
import { GLUE_DIR } from '../helpers/paths';

const dir = (t: TaskSpec) => path.join(GLUE_DIR, t.dirName);

function labelCounts(ds: Dataset): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of ds.examples) {
    const name = ds.labels[e.label as number];
    out[name] = (out[name] ?? 0) + 1;
  }
  return out;
}

const tmpDirs: string[] = [];
after(() => tmpDirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'distillery-glue-'));
  tmpDirs.push(d);
  return d;
}

/** Writes `content` as `name` in a fresh temp folder and returns the folder. */
function fixture(name: string, content: string): string {
  const d = tmpDir();
  fs.writeFileSync(path.join(d, name), content);
  return d;
}

/** Asserts that `fn` throws a UserError whose where/message match. */
function throwsUser(fn: () => unknown, where: string | RegExp, message: RegExp, fix?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UserError, `expected UserError, got ${String(e)}`);
    if (typeof where === 'string') assert.equal(e.where, where);
    else assert.match(e.where ?? '', where);
    assert.match(e.message, message);
    if (fix) assert.match(e.fix ?? '', fix);
    return true;
  });
}

function checkSequential(ds: Dataset, headerLines: number): void {
  ds.examples.forEach((e, i) => {
    assert.equal(e.index, i);
    assert.equal(e.line, i + 1 + headerLines);
  });
}

// Row and label counts are those of /work/shared/data/glue/SOURCES.md.

test('CoLA train and dev (no header; dev lacks the final newline)', () => {
  const train = readGlueSplit(GLUE_TASKS.cola, dir(GLUE_TASKS.cola), 'train');
  assert.equal(train.examples.length, 8551);
  assert.deepEqual(labelCounts(train), { '1': 6023, '0': 2528 });
  checkSequential(train, 0);
  assert.equal(train.examples[0].textB, undefined);
  assert.deepEqual(train.examples[0], {
    index: 0,
    line: 1,
    textA: "Our friends won't buy this analysis, let alone the next one we propose.",
    label: 1,
  });
  assert.equal(train.examples[8550].textA, 'What all did you get for Christmas?');

  const dev = readGlueSplit(GLUE_TASKS.cola, dir(GLUE_TASKS.cola), 'dev');
  assert.equal(dev.examples.length, 1043);
  assert.deepEqual(labelCounts(dev), { '1': 721, '0': 322 });
  assert.equal(dev.examples[0].textA, 'The sailors rode the breeze clear of the rocks.');
  assert.deepEqual(dev.examples[1042], {
    index: 1042,
    line: 1043,
    textA: 'John talked to Bill about himself.',
    label: 1,
  });
  assert.equal(dev.task, 'cola');
  assert.equal(dev.split, 'dev');
  assert.equal(dev.file, path.join(dir(GLUE_TASKS.cola), 'dev.tsv'));
  assert.equal(dev.isRegression, false);
});

test('SST-2 train and dev; train reads well under a second', () => {
  // Unloaded it takes ~0.1 s; the best of three runs keeps a busy 2-core machine from failing this.
  let best = Infinity;
  let train: Dataset | undefined;
  for (let i = 0; i < 3 && best >= 1000; i++) {
    const t0 = performance.now();
    train = readGlueSplit(GLUE_TASKS.sst2, dir(GLUE_TASKS.sst2), 'train');
    best = Math.min(best, performance.now() - t0);
  }
  assert.ok(train && best < 1000, `SST-2 train took ${best.toFixed(0)} ms`);
  assert.equal(train.examples.length, 67349);
  assert.deepEqual(labelCounts(train), { '1': 37569, '0': 29780 });
  checkSequential(train, 1);
  assert.deepEqual(train.examples[0], {
    index: 0,
    line: 2,
    textA: 'hide new secretions from the parental units ',
    label: 0,
  });
  assert.equal(
    train.examples[67348].textA,
    'this new jangle of noise , mayhem and stupidity must be a serious contender for the title . ',
  );
  assert.equal(train.examples[67348].label, 0);

  const dev = readGlueSplit(GLUE_TASKS.sst2, dir(GLUE_TASKS.sst2), 'dev');
  assert.equal(dev.examples.length, 872);
  assert.deepEqual(labelCounts(dev), { '1': 444, '0': 428 });
  assert.equal(dev.examples[0].textA, "it 's a charming and often affecting journey . ");
  assert.equal(
    dev.examples[871].textA,
    "looking aristocratic , luminous yet careworn in jane hamilton 's exemplary costumes , rampling gives a performance that could not be improved upon . ' ",
  );
});

test('MRPC train and dev (BOM header, quotes kept literally)', () => {
  const train = readGlueSplit(GLUE_TASKS.mrpc, dir(GLUE_TASKS.mrpc), 'train');
  assert.equal(train.examples.length, 3668);
  assert.deepEqual(labelCounts(train), { '1': 2474, '0': 1194 });
  checkSequential(train, 1);
  assert.deepEqual(train.examples[0], {
    index: 0,
    line: 2,
    textA: 'Amrozi accused his brother, whom he called "the witness", of deliberately distorting his evidence.',
    textB:
      'Referring to him as only "the witness", Amrozi accused his brother of deliberately distorting his evidence.',
    label: 1,
  });
  assert.equal(
    train.examples[3667].textB,
    'The 30-year bond US30YT=RR grew 1-3/32 for a yield of 4.30 percent, down from 4.35 percent late Wednesday.',
  );

  const dev = readGlueSplit(GLUE_TASKS.mrpc, dir(GLUE_TASKS.mrpc), 'dev');
  assert.equal(dev.examples.length, 408);
  assert.deepEqual(labelCounts(dev), { '1': 279, '0': 129 });
  // An unbalanced leading quote stays in the text.
  assert.equal(dev.examples[0].textB, '"The foodservice pie business does not fit our long-term growth strategy.');
  assert.equal(
    dev.examples[407].textB,
    'In Soviet times the Beatles\' music "was considered propaganda of an alien ideology.',
  );
});

test('RTE train and dev, including the quote-hazard row at index 2164', () => {
  const train = readGlueSplit(GLUE_TASKS.rte, dir(GLUE_TASKS.rte), 'train');
  assert.equal(train.examples.length, 2490);
  assert.deepEqual(labelCounts(train), { entailment: 1249, not_entailment: 1241 });
  checkSequential(train, 1);
  assert.equal(train.examples[0].textA, 'No Weapons of Mass Destruction Found in Iraq Yet.');
  assert.equal(train.examples[0].label, 1);
  const hazard = train.examples[2164];
  assert.equal(hazard.line, 2166);
  assert.match(
    hazard.textA,
    /^"That film wasn't too successful, but then 'WarGames,' which was successful, came out right when I won the Tony for 'Brighton Beach' in 1983\.$/,
  );
  assert.equal(hazard.textB, 'The film "WarGames" was shot in 1983.');
  assert.equal(hazard.label, 1);
  assert.equal(train.examples[2165].line, 2167, 'the next row is not merged into it');
  assert.equal(train.examples[2489].textB, 'U.S. to use Turkish military bases.');

  const dev = readGlueSplit(GLUE_TASKS.rte, dir(GLUE_TASKS.rte), 'dev');
  assert.equal(dev.examples.length, 277);
  assert.deepEqual(labelCounts(dev), { entailment: 146, not_entailment: 131 });
  assert.equal(dev.examples[276].textB, 'Greenpeace director said that peace is terrorism.');
});

test('STS-B train and dev are regression; quote-hazard rows 764/1025/1041 are not merged', () => {
  const train = readGlueSplit(GLUE_TASKS.stsb, dir(GLUE_TASKS.stsb), 'train');
  assert.equal(train.examples.length, 5749);
  assert.equal(train.isRegression, true);
  assert.deepEqual(train.labels, []);
  checkSequential(train, 1);
  assert.deepEqual(train.examples[0], {
    index: 0,
    line: 2,
    textA: 'A plane is taking off.',
    textB: 'An air plane is taking off.',
    label: 5,
  });
  // Sum of scores from /usr/bin/python3 (float() of column 10, numpy sum).
  const sumTrain = train.examples.reduce((s, e) => s + (e.label as number), 0);
  assert.ok(Math.abs(sumTrain - 15528.043396825396) < 1e-6, `sum ${sumTrain}`);
  assert.equal(train.examples[5748].textB, 'The Latest on Severe Weather: 1 Dead in Texas After Tornado');

  const dev = readGlueSplit(GLUE_TASKS.stsb, dir(GLUE_TASKS.stsb), 'dev');
  assert.equal(dev.examples.length, 1500);
  checkSequential(dev, 1);
  const sumDev = dev.examples.reduce((s, e) => s + (e.label as number), 0);
  assert.ok(Math.abs(sumDev - 3545.8613333333333) < 1e-6, `sum ${sumDev}`);
  assert.deepEqual(dev.examples[764], {
    index: 764,
    line: 766,
    textA: '"The grass family is one of the most widely distributed and abundant groups of plants on Earth.',
    textB: 'As noted on the Wiki page, grass seed was imported to the new world to improve pasturage for livestock.',
    label: 1.4,
  });
  assert.deepEqual(dev.examples[1025], {
    index: 1025,
    line: 1027,
    textA: '"She was crying and scared,\' said Isa Yasin, the owner of the store.',
    textB: '"She was crying and she was really scared," said Yasin.',
    label: 3.8,
  });
  assert.equal(
    dev.examples[1041].textA,
    'He claims it may seem unrealistic only because little effort has been devoted to the concept.',
  );
  assert.match(
    dev.examples[1041].textB ?? '',
    /^"This proposal is modest compared with the space programme, .* devoted to it\.$/,
  );
  assert.equal(dev.examples[1041].label, 3.5);
  assert.equal(dev.examples[1499].textB, 'New York police officer critically wounded in hatchet attack');
  assert.equal(dev.examples[1499].label, 0);
});

test('WNLI dev, and the reconstructed train copied to train.tsv', () => {
  const dev = readGlueSplit(GLUE_TASKS.wnli, dir(GLUE_TASKS.wnli), 'dev');
  assert.equal(dev.examples.length, 71);
  assert.deepEqual(labelCounts(dev), { '1': 31, '0': 40 });
  assert.equal(dev.examples[0].textA, 'The drain is clogged with hair. It has to be cleaned.');
  assert.equal(dev.examples[70].textB, 'Eric was not particularly eager to see it.');

  // Without the copy, the error points at the .RECONSTRUCTED file.
  throwsUser(
    () => readGlueSplit(GLUE_TASKS.wnli, dir(GLUE_TASKS.wnli), 'train'),
    path.join(dir(GLUE_TASKS.wnli), 'train.tsv'),
    /WNLI train file not found/,
    /train\.tsv\.RECONSTRUCTED is there/,
  );

  const d = tmpDir();
  fs.copyFileSync(path.join(dir(GLUE_TASKS.wnli), 'train.tsv.RECONSTRUCTED'), path.join(d, 'train.tsv'));
  const train = readGlueSplit(GLUE_TASKS.wnli, d, 'train');
  assert.equal(train.examples.length, 635);
  assert.deepEqual(labelCounts(train), { '0': 323, '1': 312 });
  assert.deepEqual(train.examples[0], {
    index: 0,
    line: 2,
    textA: 'I stuck a pin through a carrot. When I pulled the pin out, it had a hole.',
    textB: 'The carrot had a hole.',
    label: 1,
  });
  assert.equal(train.examples[634].textB, 'Sally had such a bad start.');
});

test('the GLUE root folder works as dataDir too', () => {
  assert.equal(glueSplitFile(GLUE_TASKS.rte, GLUE_DIR, 'dev'), path.join(GLUE_DIR, 'RTE', 'dev.tsv'));
  assert.equal(readGlueSplit(GLUE_TASKS.rte, GLUE_DIR, 'dev').examples.length, 277);
  assert.equal(glueSplitFile(GLUE_TASKS.mnli, '/x', 'dev'), path.join('/x', 'dev_matched.tsv'));
});

// QQP, QNLI and MNLI files are not available: small synthetic files with the official headers.

test('QQP train and test (synthetic, official headers)', () => {
  const d = tmpDir();
  fs.writeFileSync(
    path.join(d, 'train.tsv'),
    'id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n7\t1\t2\tHow do I cook "rice?\tWhat is rice?\t0\n8\t3\t4\tWhy?\tWhy not?\t1\n',
  );
  fs.writeFileSync(path.join(d, 'test.tsv'), 'id\tquestion1\tquestion2\n0\tA?\tB?\n1\tC?\tD?\n');
  const train = readGlueSplit(GLUE_TASKS.qqp, d, 'train');
  assert.deepEqual(train.examples, [
    { index: 0, line: 2, textA: 'How do I cook "rice?', textB: 'What is rice?', label: 0 },
    { index: 1, line: 3, textA: 'Why?', textB: 'Why not?', label: 1 },
  ]);
  const testSplit = readGlueSplit(GLUE_TASKS.qqp, d, 'test');
  assert.deepEqual(testSplit.examples, [
    { index: 0, line: 2, textA: 'A?', textB: 'B?', label: null },
    { index: 1, line: 3, textA: 'C?', textB: 'D?', label: null },
  ]);
  assert.equal(testSplit.split, 'test');
});

test('QNLI dev and test (synthetic, official headers)', () => {
  const d = tmpDir();
  fs.writeFileSync(
    path.join(d, 'dev.tsv'),
    'index\tquestion\tsentence\tlabel\n0\tWho?\tHim.\tentailment\n1\tWhere?\tNo idea.\tnot_entailment\n',
  );
  fs.writeFileSync(path.join(d, 'test.tsv'), 'index\tquestion\tsentence\n0\tWhen?\tNow.\n');
  const dev = readGlueSplit(GLUE_TASKS.qnli, d, 'dev');
  assert.deepEqual(
    dev.examples.map((e) => [e.textA, e.textB, e.label]),
    [
      ['Who?', 'Him.', 0],
      ['Where?', 'No idea.', 1],
    ],
  );
  assert.deepEqual(dev.labels, ['entailment', 'not_entailment']);
  assert.deepEqual(readGlueSplit(GLUE_TASKS.qnli, d, 'test').examples, [
    { index: 0, line: 2, textA: 'When?', textB: 'Now.', label: null },
  ]);
});

test('MNLI train, dev_matched, dev_mismatched and test_matched (synthetic, official headers)', () => {
  const d = tmpDir();
  const base = [
    'index',
    'promptID',
    'pairID',
    'genre',
    'sentence1_binary_parse',
    'sentence2_binary_parse',
    'sentence1_parse',
    'sentence2_parse',
    'sentence1',
    'sentence2',
  ];
  const row = (i: number, s1: string, s2: string, extra: string[]) =>
    [String(i), '1', `${i}e`, 'fiction', '( a )', '( b )', '(ROOT a)', '(ROOT b)', s1, s2, ...extra].join('\t');
  fs.writeFileSync(
    path.join(d, 'train.tsv'),
    [
      [...base, 'label1', 'gold_label'].join('\t'),
      row(0, 'A man.', 'A person.', ['entailment', 'entailment']),
      row(1, 'Rain.', 'Sun.', ['contradiction', 'contradiction']),
    ].join('\n') + '\n',
  );
  const devHeader = [...base, 'label1', 'label2', 'label3', 'label4', 'label5', 'gold_label'].join('\t');
  const devRow = row(0, 'Cats.', 'Dogs.', ['neutral', 'neutral', 'contradiction', 'neutral', 'neutral', 'neutral']);
  fs.writeFileSync(path.join(d, 'dev_matched.tsv'), `${devHeader}\n${devRow}\n`);
  fs.writeFileSync(path.join(d, 'dev_mismatched.tsv'), `${devHeader}\r\n${devRow}\r\n`);
  fs.writeFileSync(path.join(d, 'test_matched.tsv'), `${base.join('\t')}\n${row(0, 'Hi.', 'Hello.', [])}\n`);

  const train = readGlueSplit(GLUE_TASKS.mnli, d, 'train');
  assert.deepEqual(
    train.examples.map((e) => [e.textA, e.textB, e.label]),
    [
      ['A man.', 'A person.', 1],
      ['Rain.', 'Sun.', 0],
    ],
  );
  for (const split of ['dev', 'dev_mismatched'] as Split[]) {
    const dev = readGlueSplit(GLUE_TASKS.mnli, d, split);
    assert.deepEqual(dev.examples, [{ index: 0, line: 2, textA: 'Cats.', textB: 'Dogs.', label: 2 }], split);
  }
  assert.deepEqual(readGlueSplit(GLUE_TASKS.mnli, d, 'test').examples, [
    { index: 0, line: 2, textA: 'Hi.', textB: 'Hello.', label: null },
  ]);
  // An MNLI gold label outside the three classes is rejected.
  fs.writeFileSync(
    path.join(d, 'dev_matched.tsv'),
    `${devHeader}\n${row(0, 'a', 'b', ['-', '-', '-', '-', '-', '-'])}\n`,
  );
  throwsUser(
    () => readGlueSplit(GLUE_TASKS.mnli, d, 'dev'),
    `${path.join(d, 'dev_matched.tsv')}:2`,
    /unknown label '-' in column 'gold_label'; expected one of 'contradiction', 'entailment', 'neutral'/,
  );
});

test('test splits of the tasks present, with their official test headers', () => {
  const cases: [TaskSpec, string, { textA: string; textB?: string }][] = [
    [
      GLUE_TASKS.cola,
      'index\tsentence\n0\tBill whistled past the house.\n',
      { textA: 'Bill whistled past the house.' },
    ],
    [
      GLUE_TASKS.sst2,
      'index\tsentence\n0\tuneasy mishmash of styles and genres .\n',
      { textA: 'uneasy mishmash of styles and genres .' },
    ],
    [
      GLUE_TASKS.mrpc,
      '\ufeffindex\t#1 ID\t#2 ID\t#1 String\t#2 String\n0\t1089874\t1089925\tPCCW said.\tPCCW says.\n',
      { textA: 'PCCW said.', textB: 'PCCW says.' },
    ],
    [
      GLUE_TASKS.stsb,
      'index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\n0\tmain-news\theadlines\t2016\t0001\tnone\tnone\t"Quote.\tUnquote."\n',
      { textA: '"Quote.', textB: 'Unquote."' },
    ],
    [GLUE_TASKS.rte, 'index\tsentence1\tsentence2\n0\tP.\tH.\n', { textA: 'P.', textB: 'H.' }],
    [GLUE_TASKS.wnli, 'index\tsentence1\tsentence2\n0\tP.\tH.\n', { textA: 'P.', textB: 'H.' }],
  ];
  for (const [task, content, expected] of cases) {
    const ds = readGlueSplit(task, fixture('test.tsv', content), 'test');
    assert.deepEqual(ds.examples, [{ index: 0, line: 2, ...expected, label: null }], task.name);
  }
});

test('a test file that keeps its label column yields labels', () => {
  const ds = readGlueSplit(
    GLUE_TASKS.rte,
    fixture('test.tsv', 'index\tsentence1\tsentence2\tlabel\n0\tP.\tH.\tentailment\n'),
    'test',
  );
  assert.equal(ds.examples[0].label, 0);
});

test('CRLF, BOM, missing final newline and trailing blank lines', () => {
  const d = fixture('dev.tsv', '\ufeffsentence\tlabel\r\nfine .\t1\r\nbad .\t0\r\n\r\n\n');
  const ds = readGlueSplit(GLUE_TASKS.sst2, d, 'dev');
  assert.deepEqual(ds.examples, [
    { index: 0, line: 2, textA: 'fine .', label: 1 },
    { index: 1, line: 3, textA: 'bad .', label: 0 },
  ]);
  const noNewline = readGlueSplit(GLUE_TASKS.cola, fixture('train.tsv', 'src\t0\t*\tBad sentence.'), 'train');
  assert.deepEqual(noNewline.examples, [{ index: 0, line: 1, textA: 'Bad sentence.', label: 0 }]);
});

test('a file of another task gives a clear error', () => {
  // CoLA dev read as SST-2: no header where one is expected.
  const colaDev = path.join(dir(GLUE_TASKS.cola), 'dev.tsv');
  const d = tmpDir();
  fs.copyFileSync(colaDev, path.join(d, 'dev.tsv'));
  throwsUser(
    () => readGlueSplit(GLUE_TASKS.sst2, d, 'dev'),
    `${path.join(d, 'dev.tsv')}:1`,
    /the first line should be the SST-2 dev header with the columns 'sentence', 'label'; it has 4 columns: 'gj04', '1', '', 'The sailors/,
    /looks like a CoLA file/,
  );
  // SST-2 dev read as CoLA: a header where CoLA has none.
  const d2 = tmpDir();
  fs.copyFileSync(path.join(dir(GLUE_TASKS.sst2), 'dev.tsv'), path.join(d2, 'dev.tsv'));
  throwsUser(
    () => readGlueSplit(GLUE_TASKS.cola, d2, 'dev'),
    `${path.join(d2, 'dev.tsv')}:1`,
    /expected 4 tab-separated columns \(source, label, mark, sentence\), found 2/,
    /looks like a SST-2 file/,
  );
  // MRPC read as STS-B.
  const d3 = tmpDir();
  fs.copyFileSync(path.join(dir(GLUE_TASKS.mrpc), 'dev.tsv'), path.join(d3, 'dev.tsv'));
  throwsUser(
    () => readGlueSplit(GLUE_TASKS.stsb, d3, 'dev'),
    /:1$/,
    /'sentence1', 'sentence2', 'score'.*'Quality', '#1 ID'/,
    /MRPC/,
  );
  // WNLI read as RTE: same header, different labels.
  throwsUser(
    () => readGlueSplit(GLUE_TASKS.rte, dir(GLUE_TASKS.wnli), 'dev'),
    `${path.join(dir(GLUE_TASKS.wnli), 'dev.tsv')}:2`,
    /unknown label '0' in column 'label'; expected one of 'entailment', 'not_entailment'/,
  );
});

test('malformed rows name the file and line', () => {
  const colaBad = fixture('train.tsv', 'a\t1\t\tGood.\nb\t1\tOnly three.\n');
  throwsUser(
    () => readGlueSplit(GLUE_TASKS.cola, colaBad, 'train'),
    `${path.join(colaBad, 'train.tsv')}:2`,
    /expected 4 tab-separated columns \(source, label, mark, sentence\), found 3/,
  );

  const extraTab = fixture('dev.tsv', 'sentence\tlabel\nok\t1\na\ttab\t0\n');
  throwsUser(
    () => readGlueSplit(GLUE_TASKS.sst2, extraTab, 'dev'),
    `${path.join(extraTab, 'dev.tsv')}:3`,
    /expected 2 tab-separated columns \(sentence, label\), found 3/,
  );

  const badLabel = fixture('dev.tsv', 'sentence\tlabel\nok\t1\nhm\tpositive\n');
  throwsUser(
    () => readGlueSplit(GLUE_TASKS.sst2, badLabel, 'dev'),
    `${path.join(badLabel, 'dev.tsv')}:3`,
    /unknown label 'positive' in column 'label'; expected one of '0', '1'/,
  );

  const stsHeader = 'index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n';
  for (const score of ['high', '']) {
    const badScore = fixture('train.tsv', `${stsHeader}0\tg\tf\t2012\t0\tnone\tnone\tA.\tB.\t${score}\n`);
    throwsUser(
      () => readGlueSplit(GLUE_TASKS.stsb, badScore, 'train'),
      `${path.join(badScore, 'train.tsv')}:2`,
      new RegExp(`score '${score}' is not a number`),
    );
  }

  const blankMiddle = fixture('dev.tsv', 'sentence\tlabel\nok\t1\n\nok\t0\n');
  throwsUser(() => readGlueSplit(GLUE_TASKS.sst2, blankMiddle, 'dev'), /dev\.tsv:3$/, /found 1/);

  throwsUser(() => readGlueSplit(GLUE_TASKS.sst2, fixture('dev.tsv', ''), 'dev'), /dev\.tsv$/, /empty/);
  throwsUser(
    () => readGlueSplit(GLUE_TASKS.sst2, fixture('dev.tsv', 'sentence\tlabel\n'), 'dev'),
    /dev\.tsv$/,
    /header but no rows/,
  );
});

test('missing files and splits', () => {
  const empty = tmpDir();
  throwsUser(
    () => readGlueSplit(GLUE_TASKS.rte, empty, 'train'),
    path.join(empty, 'train.tsv'),
    /RTE train file not found/,
    /should hold train\.tsv, dev\.tsv, test\.tsv/,
  );
  throwsUser(
    () => readGlueSplit(GLUE_TASKS.mnli, empty, 'dev'),
    path.join(empty, 'dev_matched.tsv'),
    /MNLI dev file not found/,
    /train\.tsv, dev_matched\.tsv, dev_mismatched\.tsv, test_matched\.tsv/,
  );
  const nowhere = path.join(empty, 'no-such-folder');
  throwsUser(() => readGlueSplit(GLUE_TASKS.rte, nowhere, 'dev'), nowhere, /RTE data folder not found/);
  throwsUser(
    () => readGlueSplit(GLUE_TASKS.sst2, empty, 'dev_mismatched'),
    /^$/,
    /SST-2 has no 'dev_mismatched' split/,
    /train, dev, test/,
  );
});
