/**
 * Which run folder belongs to which cell, read from the run folders themselves (they are the
 * truth; the manifest only caches it): a run started from <sweep>/cells/<id>.distill.json records
 * that path in its run.json. This works the same for runs made by `distillery sweep` here and by
 * cluster tasks on shared storage, where the manifest was never updated.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RunFolder, RunInfo } from '../train/run-folder';
import { isProcessAlive } from '../util/process-alive';

/** A run's state; `crashed`: run.json still says running but its process is gone (kill -9, OOM, reboot). */
export type CellRunStatus = 'finished' | 'failed' | 'stopped' | 'running' | 'crashed';

export interface CellRun {
  /** Absolute. */
  runDir: string;
  status: CellRunStatus;
  info?: RunInfo;
}

/** The cell id a run was started for, from run.json's configFile (…/cells/<id>.distill.json). */
export function cellIdOfRun(info: RunInfo | undefined): string | undefined {
  const file = info?.configFile;
  if (!file) return undefined;
  const norm = file.split('\\').join('/');
  const m = /\/cells\/([^/]+)\.distill\.json$/.exec(norm);
  return m?.[1];
}

/** cell id → its run folders, oldest first (folder names carry the start time). */
export function findCellRuns(runsDir: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let names: string[];
  try {
    names = fs.readdirSync(runsDir).sort();
  } catch {
    return out;
  }
  for (const name of names) {
    const dir = path.join(runsDir, name);
    const id = cellIdOfRun(new RunFolder(dir).readInfo());
    if (!id) continue;
    const list = out.get(id) ?? [];
    list.push(dir);
    out.set(id, list);
  }
  return out;
}

/**
 * A run's state. With `checkPid`, a "running" run whose process is gone reads as crashed; only
 * meaningful on the machine that ran it, so the report (which may read cluster runs) leaves it off.
 */
export function readCellRun(runDir: string, opts: { checkPid: boolean }): CellRun {
  const info = new RunFolder(runDir).readInfo();
  let status: CellRunStatus = info?.status ?? 'crashed';
  // Our own pid in run.json was another container's process, reused.
  if (status === 'running' && opts.checkPid && (info?.pid === process.pid || !isProcessAlive(info?.pid)))
    status = 'crashed';
  return { runDir, status, info };
}

/** The run that speaks for a cell: its newest finished run, else its newest run. */
export function currentCellRun(
  runDirs: readonly string[] | undefined,
  opts: { checkPid: boolean },
): CellRun | undefined {
  if (!runDirs || runDirs.length === 0) return undefined;
  const runs = runDirs.map((d) => readCellRun(d, opts));
  return [...runs].reverse().find((r) => r.status === 'finished') ?? runs[runs.length - 1];
}
