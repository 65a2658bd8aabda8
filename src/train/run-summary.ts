/**
 * Reads a run folder's events.jsonl back into a summary: what the demo's comparison table, `report`
 * and the extension's tree show. Tolerates partial lines and unknown events.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LayerEval, parseEventLine, TrainerEvent } from '../protocol/events';

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
  const events = readEvents(path.join(runDir, 'events.jsonl'));
  const s: RunSummary = { runDir, runId: path.basename(runDir), status: 'unknown', lastPerLayer: [], steps: 0 };
  const teacherStages = new Set<number>();
  for (const e of events) {
    switch (e.type) {
      case 'run-started':
        s.algorithm = e.config.algorithm;
        s.backend = e.backend.kind;
        s.studentParams = e.params.student.total;
        s.teacherParams = e.params.teacher.total;
        for (const st of e.plan.stages) if (st.kind === 'teacher') teacherStages.add(st.index);
        s.status = 'running';
        break;
      case 'step':
        s.steps = Math.max(s.steps, e.step);
        break;
      case 'eval':
        if (teacherStages.has(e.stage)) {
          if (!s.teacherMetric || e.mainMetric.value > s.teacherMetric.value) s.teacherMetric = { ...e.mainMetric };
        } else {
          if (e.perLayer.length) s.lastPerLayer = e.perLayer;
          if (e.isBest) s.best = { metric: e.mainMetric.name, value: e.mainMetric.value, step: e.step };
        }
        break;
      case 'run-finished':
        s.status = 'finished';
        s.durationMs = e.durationMs;
        if (e.best) s.best = e.best;
        break;
      case 'run-failed':
        s.status = 'failed';
        s.failure = e.reason;
        break;
      case 'run-stopped':
        s.status = 'stopped';
        break;
      default:
        break;
    }
  }
  return s;
}
