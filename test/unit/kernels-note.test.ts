// The kernels note (src/protocol/kernels-note.ts) the status bar and the dashboard show: native
// kernels named with their library and file; TensorFlow backends not called slow; the slow path
// (wasm or cpu without the addon) with the trainer's reason and the fix that matches it. Also the
// run-started fields that carry it (validation) and the run state the status bar reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kernelsNote, PLATFORM_PACKAGE } from '../../src/protocol/kernels-note';
import { createEvent, isTrainerEvent, type RunStartedEvent, type TrainerEvent } from '../../src/protocol/events';
import { deriveRunState } from '../../src/extension/run-state';
import type { ResolvedConfig } from '../../src/config/types';

const ADDON =
  '/home/u/.vscode/extensions/distillery.distillery-0.1.0-linux-x64/native/prebuilds/linux-x64/distillery_blas.node';
const NATIVE = {
  path: ADDON,
  library: 'OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Cooperlake MAX_THREADS=64',
  threads: 2,
};
const NOT_HERE =
  "not in this install (no native/build/distillery_blas.node or native/prebuilds/linux-x64/distillery_blas.node): install the extension's linux-x64 package, or run `node native/build.mjs` in a checkout";

test('native kernels: library, threads and the file, not slow', () => {
  const n = kernelsNote({ kind: 'wasm', skipped: [], kernels: 'blas', native: NATIVE });
  assert.ok(n);
  assert.equal(n.slow, false);
  assert.equal(n.label, 'native kernels');
  assert.match(n.detail, /OpenBLAS 0\.3\.21 \(2 threads\)/);
  assert.ok(n.detail.includes(ADDON));
  assert.equal(n.fix, undefined);
});

test('TensorFlow backends run their own native kernels: not the slow path', () => {
  const n = kernelsNote({ kind: 'tensorflow', skipped: [], kernels: 'stock' });
  assert.equal(n?.slow, false);
  assert.equal(n?.label, 'tensorflow kernels');
});

test('slow path without the addon: the reason, and the platform package or a checkout build as the fix', () => {
  const n = kernelsNote({ kind: 'wasm', skipped: [], kernels: 'untransposed', nativeUnavailable: NOT_HERE });
  assert.ok(n);
  assert.equal(n.slow, true);
  assert.equal(n.label, 'wasm kernels (slow path)');
  assert.ok(n.detail.includes(NOT_HERE), n.detail);
  assert.ok(n.fix?.includes(PLATFORM_PACKAGE), n.fix);
  assert.match(n.fix ?? '', /distillery\.cliPath/);
});

test('the fix follows the reason: DISTILLERY_KERNELS, DISTILLERY_NATIVE_BLAS, an addon that does not load', () => {
  const fix = (reason: string): string =>
    kernelsNote({ kind: 'cpu', skipped: [], kernels: 'stock', nativeUnavailable: reason })?.fix ?? '';
  assert.match(fix('DISTILLERY_KERNELS=untransposed selects the untransposed kernels'), /Remove DISTILLERY_KERNELS/);
  assert.match(fix('turned off by DISTILLERY_NATIVE_BLAS'), /Remove DISTILLERY_NATIVE_BLAS/);
  assert.match(
    fix("failed to load /x/distillery_blas.node: /lib/libc.so.6: version `GLIBC_2.34' not found"),
    /does not load on this system/,
  );
  // No reason given (a trainer of another version): still slow, still a way out.
  const n = kernelsNote({ kind: 'wasm', skipped: [], kernels: 'untransposed' });
  assert.equal(n?.slow, true);
  assert.ok(n?.fix?.includes(PLATFORM_PACKAGE));
});

test('runs from before kernel reporting get no note', () => {
  assert.equal(kernelsNote({ kind: 'wasm', skipped: [] }), undefined);
});

const params = { embeddings: 1, encoder: 2, pooler: 3, head: 4, total: 10 };
function started(backend: RunStartedEvent['backend']): TrainerEvent {
  return createEvent('r-20250101-120000', {
    type: 'run-started',
    runDir: '/ws/runs/r-20250101-120000',
    config: { name: 'r', algorithm: 'pid' } as unknown as ResolvedConfig,
    backend,
    params: { teacher: params, student: params },
    plan: { stages: [] },
    dataset: { train: 1, eval: 1 },
  }) as TrainerEvent;
}

test('run-started carries the addon or the reason; malformed ones are rejected', () => {
  assert.ok(isTrainerEvent(started({ kind: 'wasm', skipped: [], kernels: 'blas', native: NATIVE })));
  assert.ok(
    isTrainerEvent(started({ kind: 'wasm', skipped: [], kernels: 'untransposed', nativeUnavailable: NOT_HERE })),
  );
  const bad = JSON.parse(JSON.stringify(started({ kind: 'wasm', skipped: [], kernels: 'blas', native: NATIVE }))) as {
    backend: { native: { threads: unknown } };
  };
  bad.backend.native.threads = 'two';
  assert.equal(isTrainerEvent(bad), false);
});

test("the run state the status bar reads has the note of the run's latest start", () => {
  const s = deriveRunState(
    {
      runDir: '/ws/runs/r-20250101-120000',
      events: [
        started({ kind: 'wasm', skipped: [], kernels: 'untransposed', nativeUnavailable: NOT_HERE }),
        started({ kind: 'wasm', skipped: [], kernels: 'blas', native: NATIVE }),
      ],
      files: { checkpoints: [] },
    },
    () => false,
  );
  assert.equal(s.kernels?.slow, false);
  assert.equal(s.kernels?.label, 'native kernels');
});
