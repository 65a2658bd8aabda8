// The `tensorflow` backend built offline by scripts/build-tfjs-node.mjs (tfjs-node's binding on the
// C library of PyPI's tensorflow-cpu wheel): it loads, gives the model the same outputs as wasm,
// and trains the BERT-base-sized distillation step at batch 32 × 128 on the CPU, which the wasm
// heap cannot hold. Skipped (with the reason) where the backend is not built; `.ci/run` builds it
// after `npm test` and runs this file with DISTILLERY_REQUIRE_TENSORFLOW=1, where a skip is a failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BERT_VOCAB, REPO_ROOT } from '../helpers/paths';
import { ensureCliBuilt, runCli } from '../helpers/run-cli';
import { writeTinyCheckpoint } from '../helpers/tiny-checkpoint';
import type { InspectResult } from '../../src/cli/verbs/inspect';

const check = spawnSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'build-tfjs-node.mjs'), '--check'], {
  encoding: 'utf8',
});
const built = check.status === 0;
const required = process.env.DISTILLERY_REQUIRE_TENSORFLOW === '1';
const reason = `the tensorflow backend is not built (${check.stderr.trim().split('\n').pop()}); run \`node scripts/build-tfjs-node.mjs\``;
const opts = { skip: built || required ? false : reason };

function requireBuilt(): void {
  assert.ok(built, reason);
}

test('the tensorflow backend gives the model the same logits, [CLS] states and attentions as wasm', opts, () => {
  requireBuilt();
  ensureCliBuilt();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'distillery-tf-'));
  try {
    writeTinyCheckpoint(dir, {
      vocabFile: BERT_VOCAB,
      layers: 2,
      hidden: 48,
      heads: 4,
      maxPositions: 128,
      std: 0.02,
      seed: 7,
    });
    const inspect = (backend: string): InspectResult => {
      const r = runCli([
        'inspect',
        dir,
        '--text',
        'a gripping, funny and thoroughly humane film',
        '--text-pair',
        'it was not',
        '--json',
        '--backend',
        backend,
      ]);
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout) as InspectResult;
    };
    const tf = inspect('tensorflow');
    const wasm = inspect('wasm');
    assert.equal(tf.backend, 'tensorflow');
    assert.deepEqual(tf.inputIds, wasm.inputIds);
    const maxDiff = (a: number[], b: number[]): number => Math.max(...a.map((x, i) => Math.abs(x - b[i])));
    assert.ok(maxDiff(tf.logits, wasm.logits) < 1e-4, `logits differ by ${maxDiff(tf.logits, wasm.logits)}`);
    tf.hiddenCls.forEach((v, l) =>
      assert.ok(
        maxDiff(v, wasm.hiddenCls[l]) < 1e-4,
        `[CLS] after layer ${l} differs by ${maxDiff(v, wasm.hiddenCls[l])}`,
      ),
    );
    const flat = (r: InspectResult): number[] => r.attentions.flat(3);
    assert.ok(maxDiff(flat(tf), flat(wasm)) < 1e-5, `attentions differ by ${maxDiff(flat(tf), flat(wasm))}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test(
  'the BERT-base distillation step (12 × 768 → 6 × 768) trains at batch 32 × 128 on the CPU',
  { ...opts, timeout: 20 * 60_000 },
  () => {
    requireBuilt();
    ensureCliBuilt();
    const r = runCli([
      'bench',
      '--shape',
      'base',
      '--backend',
      'tensorflow',
      '--repeats',
      '2',
      '--warmup',
      '1',
      '--json',
    ]);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as {
      backend: string;
      shape: { batchSize: number; seqLen: number; hiddenSize: number; teacherLayers: number; studentLayers: number };
      step: { timing: { medianMs: number }; loss: { first: number; last: number } };
      memory: { maxRssBytes: number };
    };
    assert.equal(report.backend, 'tensorflow');
    assert.deepEqual(
      [
        report.shape.batchSize,
        report.shape.seqLen,
        report.shape.hiddenSize,
        report.shape.teacherLayers,
        report.shape.studentLayers,
      ],
      [32, 128, 768, 12, 6],
    );
    const { loss, timing } = report.step;
    assert.ok(Number.isFinite(loss.first) && Number.isFinite(loss.last), `loss ${loss.first} → ${loss.last}`);
    assert.ok(timing.medianMs > 0);
    // Reported so the CI log carries the figures (docs/performance.md).
    process.stderr.write(
      `base shape on tensorflow: ${(timing.medianMs / 1000).toFixed(1)} s/step, peak RSS ${(report.memory.maxRssBytes / 2 ** 30).toFixed(2)} GiB\n`,
    );
  },
);
