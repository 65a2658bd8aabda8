/**
 * A run's events folded, in order, into what every reader of a run shows: its plan and how far
 * each stage got, the latest step, the best and last evaluations, and how the run (or its last
 * segment: a resume starts a new one) ended. The CLI's summaries (src/train/run-summary.ts), the
 * extension's runs (src/extension/run-state.ts) and the dashboard (webview/src/state.ts) all use
 * this one fold, each reading what it needs; the dashboard adds its step and evaluation columns.
 *
 * Incremental (apply one event at a time) and pure: no Node modules, no vscode, so the webview
 * bundle can use it.
 */
import type { LayerPairSpec } from '../config/types';
import type {
  CheckpointEvent,
  LayerEval,
  RunFailedEvent,
  RunFinishedEvent,
  RunStartedEvent,
  RunStoppedEvent,
  StageKind,
  StepEvent,
  TrainerEvent,
} from './events';

export type StageState = 'pending' | 'running' | 'done';

export interface StageRecord {
  index: number;
  name: string;
  kind: StageKind;
  epochs: number;
  /** The (student, teacher) pairs of its internal losses, as planned; empty for output-only stages. */
  layers: LayerPairSpec[];
  /** Known once the stage started. */
  stepsPlanned?: number;
  /** The first and last global step trained in this stage (a resume replays from its checkpoint). */
  firstStep?: number;
  lastStep?: number;
  state: StageState;
  finishReason?: 'epochs' | 'plateau';
}

/** How a segment of the run ended. */
export type RunEnding = RunFinishedEvent | RunFailedEvent | RunStoppedEvent;

export interface Measured {
  metric: string;
  value: number;
  step: number;
}

export class RunFold {
  /** Events folded in. */
  count = 0;
  firstTime: string | undefined;
  lastTime: string | undefined;
  /** The latest run-started (a resume sends another). */
  started: RunStartedEvent | undefined;
  stages: StageRecord[] = [];
  /** The index of the active (or last started) stage; -1 before one starts. */
  currentStage = -1;
  /** The highest global step trained. */
  step = 0;
  /** The latest step event (epoch, loss, learning rate, throughput). */
  latestStep: StepEvent | undefined;
  /**
   * The student's best evaluation: the last one marked best outside teacher stages, or the run's
   * own report. A resume forgets marks after its checkpoint, as the trainer's best goes back to the
   * checkpoint's.
   */
  best: Measured | undefined;
  /** The latest evaluation, of any stage. */
  lastEval: Measured | undefined;
  /** The teacher's own training: its last evaluation marked best (what the dashboard shows until the student has one). */
  teacherBest: Measured | undefined;
  /** The evaluations marked best, the student's and the teacher's, for a resume to cut back. */
  private readonly marks: { student: Measured[]; teacher: Measured[] } = { student: [], teacher: [] };
  /** The best dev metric of the teacher's own training, when the run trained it. */
  teacherMetric: { name: string; value: number } | undefined;
  /** Per mapped layer, at the student's latest evaluation that measured them. */
  lastPerLayer: LayerEval[] = [];
  /** Every checkpoint event, in order. */
  readonly checkpoints: CheckpointEvent[] = [];
  /** How the latest segment ended; a run-started (a resume) clears it. */
  ended: RunEnding | undefined;
  /** The reason of the latest run-failed, also after a resume. */
  failure: string | undefined;

  static of(events: readonly TrainerEvent[]): RunFold {
    const f = new RunFold();
    for (const e of events) f.apply(e);
    return f;
  }

  get finished(): RunFinishedEvent | undefined {
    return this.ended?.type === 'run-finished' ? this.ended : undefined;
  }

  get failed(): RunFailedEvent | undefined {
    return this.ended?.type === 'run-failed' ? this.ended : undefined;
  }

  get stopped(): RunStoppedEvent | undefined {
    return this.ended?.type === 'run-stopped' ? this.ended : undefined;
  }

  /** 'running' once started, then how its last segment ended. */
  get status(): 'unknown' | 'running' | 'finished' | 'failed' | 'stopped' {
    if (this.ended)
      return this.ended.type === 'run-finished' ? 'finished' : this.ended.type === 'run-failed' ? 'failed' : 'stopped';
    return this.started ? 'running' : 'unknown';
  }

  isTeacherStage(index: number): boolean {
    return this.stages.find((s) => s.index === index)?.kind === 'teacher';
  }

  apply(e: TrainerEvent): void {
    this.count++;
    this.firstTime ??= e.time;
    this.lastTime = e.time;
    switch (e.type) {
      case 'run-started':
        this.onRunStarted(e);
        break;
      case 'stage-started': {
        const st = this.stageRecord(e.stage, e.name, e.kind, e.epochs);
        st.stepsPlanned = e.stepsPlanned;
        st.state = 'running';
        st.finishReason = undefined;
        for (const other of this.stages) if (other.index < e.stage && other.state === 'running') other.state = 'done';
        this.currentStage = e.stage;
        break;
      }
      case 'step': {
        this.step = Math.max(this.step, e.step);
        this.latestStep = e;
        const st =
          this.stages.find((s) => s.index === e.stage) ??
          this.stageRecord(e.stage, `stage ${e.stage + 1}`, 'custom', 0);
        if (st.firstStep === undefined || e.step < st.firstStep) st.firstStep = e.step;
        st.lastStep = e.step;
        if (st.state === 'pending') st.state = 'running';
        this.currentStage = e.stage;
        break;
      }
      case 'eval': {
        const m = { metric: e.mainMetric.name, value: e.mainMetric.value, step: e.step };
        this.lastEval = m;
        if (this.isTeacherStage(e.stage)) {
          if (!this.teacherMetric || e.mainMetric.value > this.teacherMetric.value)
            this.teacherMetric = { ...e.mainMetric };
          if (e.isBest) this.teacherBest = this.mark('teacher', m);
        } else {
          if (e.perLayer.length) this.lastPerLayer = e.perLayer;
          if (e.isBest) this.best = this.mark('student', m);
        }
        break;
      }
      case 'checkpoint':
        this.checkpoints.push(e);
        break;
      case 'stage-finished': {
        const st = this.stages.find((s) => s.index === e.stage);
        if (st) {
          st.state = 'done';
          st.finishReason = e.reason;
        }
        break;
      }
      case 'run-finished':
        this.ended = e;
        if (e.best) this.best = e.best;
        break;
      case 'run-failed':
        this.ended = e;
        this.failure = e.reason;
        break;
      case 'run-stopped':
        this.ended = e;
        break;
      default:
        break;
    }
  }

  /** A new segment: the plan again, with what the earlier segments finished up to the resume's checkpoint. */
  private onRunStarted(e: RunStartedEvent): void {
    this.started = e;
    this.ended = undefined;
    const resumeStep = e.resumedFrom?.step;
    if (resumeStep !== undefined) {
      for (const list of [this.marks.student, this.marks.teacher])
        while (list.length > 0 && list[list.length - 1].step > resumeStep) list.pop();
      this.best = this.marks.student.at(-1);
      this.teacherBest = this.marks.teacher.at(-1);
    }
    const old = new Map(this.stages.map((s) => [s.index, s]));
    this.stages = e.plan.stages.map((p) => {
      const prev = resumeStep !== undefined ? old.get(p.index) : undefined;
      const rec: StageRecord = {
        index: p.index,
        name: p.name,
        kind: p.kind,
        epochs: p.epochs,
        layers: p.layers.map(([s, t]) => [s, t]),
        state: 'pending',
      };
      if (prev && prev.firstStep !== undefined && prev.firstStep <= (resumeStep ?? 0)) {
        rec.firstStep = prev.firstStep;
        rec.lastStep = Math.min(prev.lastStep ?? prev.firstStep, resumeStep ?? 0);
        rec.stepsPlanned = prev.stepsPlanned;
        rec.state = prev.state === 'done' && (prev.lastStep ?? 0) <= (resumeStep ?? 0) ? 'done' : 'running';
      }
      return rec;
    });
    this.currentStage = -1;
  }

  private mark(whose: 'student' | 'teacher', m: Measured): Measured {
    this.marks[whose].push(m);
    return { ...m };
  }

  private stageRecord(index: number, name: string, kind: StageKind, epochs: number): StageRecord {
    let st = this.stages.find((s) => s.index === index);
    if (!st) {
      st = { index, name, kind, epochs, layers: [], state: 'pending' };
      this.stages.push(st);
      this.stages.sort((a, b) => a.index - b.index);
    }
    return st;
  }
}
