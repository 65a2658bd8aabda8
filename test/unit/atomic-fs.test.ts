import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { recoverDir, recoverDirsIn, writeDirAtomic } from '../../src/util/atomic-fs';
import { RunFolder } from '../../src/train/run-folder';
import { loadCheckpoint } from '../../src/model/checkpoint';
import { writeTinyCheckpoint } from '../helpers/tiny-checkpoint';

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'distill-atomic-'));
}

/** The pid of a process that has exited: the writer a kill -9 ended. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  assert.ok(r.pid);
  return r.pid;
}

function writeFolder(dir: string, files: Record<string, string>): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
}

function read(dir: string, name = 'data.txt'): string {
  return fs.readFileSync(path.join(dir, name), 'utf8');
}

/**
 * What writeDirAtomic leaves when killed between its two renames: the replaced folder renamed
 * aside, the complete new one under its temporary name, nothing at `dir`. `ms` gives each its own
 * time stamp, as the writers before the shared stamp did.
 */
function killedBetweenRenames(
  dir: string,
  pid: number,
  old: Record<string, string>,
  next: Record<string, string>,
  ms = [1000, 1000],
): void {
  const parent = path.dirname(dir);
  const name = path.basename(dir);
  writeFolder(path.join(parent, `.${name}.old-${pid}-${ms[1]}`), old);
  writeFolder(path.join(parent, `.${name}.tmp-${pid}-${ms[0]}`), next);
}

function leftovers(parent: string): string[] {
  return fs.readdirSync(parent).filter((n) => n.startsWith('.'));
}

test('killed between the renames: recoverDir puts the complete new folder in place and deletes the aside one', () => {
  const parent = tmp();
  const dir = path.join(parent, 'best');
  killedBetweenRenames(dir, deadPid(), { 'data.txt': 'old' }, { 'data.txt': 'new' });
  assert.equal(fs.existsSync(dir), false);
  assert.equal(recoverDir(dir), true);
  assert.equal(read(dir), 'new');
  assert.deepEqual(leftovers(parent), []);
});

test('killed between the renames by a writer that stamped each name apart: the pid pairs them', () => {
  const parent = tmp();
  const dir = path.join(parent, 'best');
  const other = deadPid();
  writeFolder(path.join(parent, `.best.tmp-${other}-5`), { 'data.txt': 'half-filled by another killed writer' });
  killedBetweenRenames(dir, deadPid(), { 'data.txt': 'old' }, { 'data.txt': 'new' }, [2000, 2100]);
  assert.deepEqual(recoverDirsIn(parent), [dir]);
  assert.equal(read(dir), 'new');
  assert.deepEqual(leftovers(parent), []);
});

test('only the aside folder left: it goes back in place', () => {
  const parent = tmp();
  const dir = path.join(parent, 'stage-best');
  writeFolder(path.join(parent, `.stage-best.old-${deadPid()}-7`), { 'data.txt': 'old' });
  assert.equal(recoverDir(dir), true);
  assert.equal(read(dir), 'old');
  assert.deepEqual(leftovers(parent), []);
});

test('a folder in place keeps its content; a half-filled new folder of a killed writer is deleted, never promoted', () => {
  const parent = tmp();
  const dir = path.join(parent, 'best');
  const pid = deadPid();
  writeFolder(dir, { 'data.txt': 'current' });
  writeFolder(path.join(parent, `.best.tmp-${pid}-1`), { 'data.txt': 'half' });
  writeFolder(path.join(parent, `.best.old-${pid}-2`), { 'data.txt': 'older' });
  assert.equal(recoverDir(dir), false);
  assert.equal(read(dir), 'current');
  assert.deepEqual(leftovers(parent), []);

  const fresh = path.join(parent, 'student');
  writeFolder(path.join(parent, `.student.tmp-${pid}-3`), { 'data.txt': 'half' });
  assert.equal(recoverDir(fresh), false);
  assert.equal(fs.existsSync(fresh), false);
  assert.deepEqual(leftovers(parent), []);
});

test('the folders of a writer that is still running are left alone', () => {
  const parent = tmp();
  const dir = path.join(parent, 'best');
  // The test runner that started this process is alive; so is its pid's writer.
  const live = process.ppid;
  killedBetweenRenames(dir, live, { 'data.txt': 'old' }, { 'data.txt': 'new' });
  assert.equal(recoverDir(dir), false);
  assert.deepEqual(recoverDirsIn(parent), []);
  assert.equal(fs.existsSync(dir), false);
  assert.equal(leftovers(parent).length, 2);
});

test('writeDirAtomic after a killed write first recovers, then replaces, and leaves no leftovers', () => {
  const parent = tmp();
  const dir = path.join(parent, 'best');
  killedBetweenRenames(dir, deadPid(), { 'data.txt': 'old' }, { 'data.txt': 'new' });
  let sawDuringFill: string | undefined;
  writeDirAtomic(dir, (t) => {
    sawDuringFill = read(dir);
    fs.writeFileSync(path.join(t, 'data.txt'), 'newer');
  });
  assert.equal(sawDuringFill, 'new', 'the killed write had completed its folder, so it is what is replaced');
  assert.equal(read(dir), 'newer');
  assert.deepEqual(leftovers(parent), []);
});

test('a run folder whose best/ and stage-best were being replaced when the run was killed: opening it (resume, export) finds both', () => {
  const runDir = tmp();
  fs.writeFileSync(path.join(runDir, 'config.json'), '{}\n');
  const pid = deadPid();
  // best/: as saveCheckpoint leaves it after a kill between its renames.
  writeTinyCheckpoint(path.join(runDir, `.best.old-${pid}-10`), { seed: 1 });
  const staged = path.join(runDir, `.best.tmp-${pid}-10`);
  writeTinyCheckpoint(staged, { seed: 2 });
  const want = loadCheckpoint(staged).tensors.get('classifier.weight')!.data;
  // checkpoints/stage-best: as the training loop leaves it.
  const ckpts = path.join(runDir, 'checkpoints');
  killedBetweenRenames(
    path.join(ckpts, 'stage-best'),
    pid,
    { 'state.json': '{"stage":0,"step":4}' },
    { 'state.json': '{"stage":0,"step":8}' },
  );
  // A checkpoint killed while being filled.
  writeFolder(path.join(ckpts, `.step-00000012.tmp-${pid}-11`), { 'model.safetensors': '' });

  const folder = RunFolder.open(runDir);
  const best = loadCheckpoint(folder.bestDir);
  assert.deepEqual(best.tensors.get('classifier.weight')!.data, want);
  assert.equal(read(path.join(folder.checkpointsDir, 'stage-best'), 'state.json'), '{"stage":0,"step":8}');
  assert.deepEqual(leftovers(runDir), []);
  assert.deepEqual(leftovers(ckpts), []);
});

test('loadCheckpoint of a folder whose write was killed between the renames reads the new checkpoint', () => {
  const parent = tmp();
  const dir = path.join(parent, 'teacher');
  const config = writeTinyCheckpoint(dir);
  const pid = deadPid();
  fs.renameSync(dir, path.join(parent, `.teacher.tmp-${pid}-7`));
  writeFolder(path.join(parent, `.teacher.old-${pid}-7`), { 'config.json': '{ "not": "a checkpoint" }' });
  const loaded = loadCheckpoint(dir);
  assert.equal(loaded.config.hiddenSize, config.hiddenSize);
  assert.ok(loaded.tensors.size > 0);
  assert.deepEqual(leftovers(parent), []);
});
