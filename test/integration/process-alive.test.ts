import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { isProcessAlive } from '../../src/util/process-alive';

/** Runs `fn` with process.kill throwing an error with this code. */
function withKillError<T>(code: string, fn: () => T): T {
  const original = process.kill;
  process.kill = (() => {
    throw Object.assign(new Error(`kill ${code}`), { code });
  }) as typeof process.kill;
  try {
    return fn();
  } finally {
    process.kill = original;
  }
}

test('isProcessAlive: this process and pid 1 exist; an exited child does not', () => {
  assert.equal(isProcessAlive(process.pid), true);
  // pid 1 exists on every Unix; as non-root the probe gets EPERM, which still means alive.
  if (process.platform !== 'win32') assert.equal(isProcessAlive(1), true);
  const exited = spawnSync(process.execPath, ['-e', '']).pid;
  assert.ok(exited);
  assert.equal(isProcessAlive(exited), false);
});

test('isProcessAlive: EPERM is alive, ESRCH (and any other error) is not', () => {
  assert.equal(
    withKillError('EPERM', () => isProcessAlive(12345)),
    true,
  );
  assert.equal(
    withKillError('ESRCH', () => isProcessAlive(12345)),
    false,
  );
  assert.equal(
    withKillError('EINVAL', () => isProcessAlive(12345)),
    false,
  );
});

test('isProcessAlive: no pid, 0, negative and fractional pids are never probed (they would address process groups)', () => {
  let probed = 0;
  const original = process.kill;
  process.kill = (() => {
    probed++;
    return true;
  }) as typeof process.kill;
  try {
    for (const pid of [undefined, 0, -1, -4242, 1.5, Number.NaN]) assert.equal(isProcessAlive(pid), false, String(pid));
  } finally {
    process.kill = original;
  }
  assert.equal(probed, 0);
});
