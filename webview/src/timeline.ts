/**
 * The stage timeline: which steps each stage of the plan covered (drawn as shaded bands behind
 * every step chart) and where the run is now. Pure; the drawing lives in charts.ts.
 */
import type { StageKind } from '../../src/protocol/events';
import type { RunData, StageRecord, StageState } from './state';

export interface StageBand {
  stage: number;
  name: string;
  kind: StageKind;
  /** In steps: a stage that trained steps a..b covers (a − 1, b], so adjacent bands touch. */
  from: number;
  to: number;
  state: StageState;
}

/** One band per stage that trained at least one step, in step order. */
export function stageBands(stages: readonly StageRecord[]): StageBand[] {
  const bands: StageBand[] = [];
  for (const s of stages) {
    if (s.firstStep === undefined || s.lastStep === undefined) continue;
    bands.push({ stage: s.index, name: s.name, kind: s.kind, from: s.firstStep - 1, to: s.lastStep, state: s.state });
  }
  return bands.sort((a, b) => a.from - b.from);
}

export interface RunProgress {
  /** 1-based position of the current stage, 0 before the first. */
  stageNumber: number;
  stageCount: number;
  stageName: string | undefined;
  stageKind: StageKind | undefined;
  step: number;
  /** Steps done and planned in the current stage (planned is known once the stage started). */
  stageStepsDone: number;
  stageStepsPlanned: number | undefined;
  /** 0..1 over the whole plan, counting finished stages as whole; undefined while unknown. */
  fraction: number | undefined;
}

export function runProgress(run: RunData): RunProgress {
  const stages = run.stages;
  const pos = stages.findIndex((s) => s.index === run.currentStage);
  const cur = pos >= 0 ? stages[pos] : undefined;
  const done = cur && cur.firstStep !== undefined && cur.lastStep !== undefined ? cur.lastStep - cur.firstStep + 1 : 0;
  let fraction: number | undefined;
  if (stages.length > 0) {
    if (run.finished) fraction = 1;
    else if (cur) {
      const within = cur.stepsPlanned ? Math.min(1, done / cur.stepsPlanned) : cur.state === 'done' ? 1 : 0;
      fraction = (pos + within) / stages.length;
    } else fraction = 0;
  }
  return {
    stageNumber: pos + 1,
    stageCount: stages.length,
    stageName: cur?.name,
    stageKind: cur?.kind,
    step: run.lastStep,
    stageStepsDone: done,
    stageStepsPlanned: cur?.stepsPlanned,
    fraction,
  };
}
