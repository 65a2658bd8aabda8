/**
 * The run folder — the truth about a run, read by the extension and by `resume`:
 *   config.json         the resolved config
 *   run.json            status (running, finished, failed, stopped), pid, times
 *   events.jsonl        every event, one JSON object per line
 *   vocab.txt           the vocabulary, when the run built one
 *   teacher/            a teacher the run trained (Hugging Face layout), teacher-checkpoints/
 *   checkpoints/        training checkpoints of the student (step-00000123/)
 *   best/               the best student so far (Hugging Face layout)
 *   student/            the exported student (Hugging Face layout)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { recoverDirsIn, writeFileAtomic } from '../util/atomic-fs';
import { UserError } from '../util/errors';

export type RunStatus = 'running' | 'finished' | 'failed' | 'stopped';

export interface RunInfo {
  id: string;
  status: RunStatus;
  pid: number;
  configFile?: string;
  /** Started with --teacher-only: the run trains its teacher and no student. */
  teacherOnly?: boolean;
  startedAt: string;
  updatedAt: string;
  message?: string;
}

export class RunFolder {
  constructor(readonly dir: string) {}

  get id(): string {
    return path.basename(this.dir);
  }
  get configFile(): string {
    return path.join(this.dir, 'config.json');
  }
  get infoFile(): string {
    return path.join(this.dir, 'run.json');
  }
  get eventsFile(): string {
    return path.join(this.dir, 'events.jsonl');
  }
  get vocabFile(): string {
    return path.join(this.dir, 'vocab.txt');
  }
  get teacherDir(): string {
    return path.join(this.dir, 'teacher');
  }
  get teacherCheckpointsDir(): string {
    return path.join(this.dir, 'teacher-checkpoints');
  }
  get teacherReadyFile(): string {
    return path.join(this.dir, 'teacher', 'READY');
  }
  get checkpointsDir(): string {
    return path.join(this.dir, 'checkpoints');
  }
  get bestDir(): string {
    return path.join(this.dir, 'best');
  }
  get studentDir(): string {
    return path.join(this.dir, 'student');
  }

  /** A new folder runs/<name>-<yyyymmdd-hhmmss>[-n]. */
  static create(runsDir: string, name: string, now = new Date()): RunFolder {
    const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
    const base = `${name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'run'}-${stamp}`;
    fs.mkdirSync(runsDir, { recursive: true });
    for (let i = 0; ; i++) {
      const dir = path.join(runsDir, i === 0 ? base : `${base}-${i}`);
      try {
        fs.mkdirSync(dir);
        return new RunFolder(dir);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
    }
  }

  static open(dir: string): RunFolder {
    const f = new RunFolder(path.resolve(dir));
    if (!fs.existsSync(f.configFile)) {
      throw new UserError('not a run folder (it has no config.json)', {
        where: dir,
        fix: 'pass a folder under runs/ created by `distillery train`',
      });
    }
    // A run killed while replacing best/, student/, teacher/ or checkpoints/stage-best can have
    // left it renamed aside; put it back before anything reads the folder (and drop leftovers).
    for (const d of [f.dir, f.checkpointsDir, f.teacherCheckpointsDir]) recoverDirsIn(d);
    return f;
  }

  readInfo(): RunInfo | undefined {
    try {
      return JSON.parse(fs.readFileSync(this.infoFile, 'utf8')) as RunInfo;
    } catch {
      return undefined;
    }
  }

  writeInfo(update: Partial<RunInfo> & { status: RunStatus }): void {
    const prev = this.readInfo();
    const now = new Date().toISOString();
    const info: RunInfo = {
      id: this.id,
      pid: process.pid,
      startedAt: prev?.startedAt ?? now,
      ...prev,
      ...update,
      updatedAt: now,
    };
    writeFileAtomic(this.infoFile, JSON.stringify(info, null, 2) + '\n');
  }
}
