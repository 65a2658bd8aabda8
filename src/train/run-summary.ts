/**
 * Reads a run folder's events.jsonl back into a summary (the shared fold, src/protocol/run-fold.ts):
 * what the demo's comparison table and `report` show. Tolerates partial lines and unknown events.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LayerEval, parseEventLine, TrainerEvent } from '../protocol/events';
import { RunFold } from '../protocol/run-fold';

export interface RunSummary {
  runDir: string;
  runId: string;
  algorithm?: string;
  status: 'running' | 'finished' | 'failed' | 'stopped' | 'unknown';
  backend?: string;
  studentParams?: number;
  teacherParams?: number;
  best?: { metric: string; value: number; step: number };
  /** Teacher dev metric (from a teacher-training stage in this run), when the run trained one. */
  teacherMetric?: { name: string; value: number };
  /** Per mapped layer at the last evaluation. */
  lastPerLayer: LayerEval[];
  steps: number;
  durationMs?: number;
  failure?: string;
}

export function readEvents(file: string): TrainerEvent[] {
  if (!fs.existsSync(file)) return [];
  const out: TrainerEvent[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const parsed = parseEventLine(line);
    if (parsed.event) out.push(parsed.event);
  }
  return out;
}

export function summariseRun(runDir: string): RunSummary {
  const f = RunFold.of(readEvents(path.join(runDir, 'events.jsonl')));
  const e = f.started;
  const s: RunSummary = {
    runDir,
    runId: path.basename(runDir),
    status: f.status,
    lastPerLayer: f.lastPerLayer,
    steps: f.step,
  };
  if (e)
    Object.assign(s, {
      algorithm: e.config.algorithm,
      backend: e.backend.kind,
      studentParams: e.params.student.total,
      teacherParams: e.params.teacher.total,
    });
  // In the order the events set them (the teacher trains first), as the report's JSON lists them.
  if (f.teacherMetric) s.teacherMetric = f.teacherMetric;
  if (f.best) s.best = f.best;
  if (f.failure) s.failure = f.failure;
  if (f.finished) s.durationMs = f.finished.durationMs;
  return s;
}
