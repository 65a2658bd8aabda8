import * as fs from 'node:fs';
import * as path from 'node:path';
import { isProcessAlive } from './process-alive';

/** Writes a file so that readers see either the old or the new content, never a torn one. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

/**
 * Builds a directory under a temporary name with `fill`, then renames it into place. An existing
 * directory at `dir` is replaced only after the new one is complete: it is renamed aside, the new
 * one into place, then the aside one is deleted. A kill between those two renames leaves no `dir`,
 * only the aside and the complete new folder beside it; recoverDir (run here first, and by the
 * readers that resume runs) puts the new one in place.
 */
export function writeDirAtomic(dir: string, fill: (tmpDir: string) => void): void {
  const parent = path.dirname(dir);
  fs.mkdirSync(parent, { recursive: true });
  recoverDir(dir);
  const stamp = `${process.pid}-${Date.now()}`;
  const tmp = leftoverPath(dir, 'tmp', stamp);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp);
  try {
    fill(tmp);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  if (fs.existsSync(dir)) {
    const old = leftoverPath(dir, 'old', stamp);
    fs.renameSync(dir, old);
    fs.renameSync(tmp, dir);
    fs.rmSync(old, { recursive: true, force: true });
  } else {
    fs.renameSync(tmp, dir);
  }
}

type LeftoverKind = 'tmp' | 'old';

/** `.<name>.tmp-<pid>-<ms>`: a new folder being filled; `.<name>.old-<pid>-<ms>`: the folder it replaces, set aside. */
function leftoverPath(dir: string, kind: LeftoverKind, stamp: string): string {
  return path.join(path.dirname(dir), `.${path.basename(dir)}.${kind}-${stamp}`);
}

const LEFTOVER_NAME = /^\.(.+)\.(tmp|old)-(\d+)-(\d+)$/;

interface Leftover {
  file: string;
  name: string;
  kind: LeftoverKind;
  pid: number;
  ms: number;
}

function leftoversIn(parent: string): Leftover[] {
  let names: string[];
  try {
    names = fs.readdirSync(parent);
  } catch {
    return [];
  }
  const out: Leftover[] = [];
  for (const n of names) {
    const m = LEFTOVER_NAME.exec(n);
    if (m)
      out.push({
        file: path.join(parent, n),
        name: m[1],
        kind: m[2] as LeftoverKind,
        pid: Number(m[3]),
        ms: Number(m[4]),
      });
  }
  return out;
}

/**
 * Whether process `pid` may still be writing. This process is not: writeDirAtomic is synchronous,
 * so none of its writes is half done while other code runs (and a killed writer's pid may be ours
 * again, as in a fresh container).
 */
function writerAlive(pid: number): boolean {
  return pid !== process.pid && isProcessAlive(pid);
}

/**
 * Repairs what a killed writeDirAtomic left beside `dir`, leaving alone the folders of writers
 * still running. When `dir` is missing and a folder was set aside, the kill came between the two
 * renames: the new folder is complete (the old one is set aside only after `fill` returned), so it
 * goes into place, or the aside one when the new one is gone. Then the other leftovers (folders
 * set aside, half-filled new ones) are deleted. Returns whether `dir` was put back.
 */
export function recoverDir(dir: string): boolean {
  const name = path.basename(dir);
  const dead = leftoversIn(path.dirname(dir)).filter((l) => l.name === name && !writerAlive(l.pid));
  return settle(dir, dead);
}

/** recoverDir for every folder under `parent` that has leftovers; returns the folders put back. */
export function recoverDirsIn(parent: string): string[] {
  const byName = new Map<string, Leftover[]>();
  for (const l of leftoversIn(parent)) {
    if (writerAlive(l.pid)) continue;
    byName.set(l.name, [...(byName.get(l.name) ?? []), l]);
  }
  const restored: string[] = [];
  for (const [name, dead] of byName) {
    const dir = path.join(parent, name);
    if (settle(dir, dead)) restored.push(dir);
  }
  return restored;
}

function settle(dir: string, dead: Leftover[]): boolean {
  if (dead.length === 0) return false;
  let restored = false;
  if (!fs.existsSync(dir)) {
    const aside = dead.filter((l) => l.kind === 'old').sort((a, b) => b.ms - a.ms)[0];
    if (aside) {
      // The same writer's newest new folder (writers before the shared stamp timed the two names apart).
      const staged = dead.filter((l) => l.kind === 'tmp' && l.pid === aside.pid).sort((a, b) => b.ms - a.ms)[0];
      fs.renameSync((staged ?? aside).file, dir);
      restored = true;
    }
  }
  for (const l of dead) fs.rmSync(l.file, { recursive: true, force: true });
  return restored;
}
