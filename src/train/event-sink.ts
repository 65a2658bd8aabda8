/**
 * Where a run's events go: one JSON line each on stdout (for the extension or a pipe) and in
 * runs/<id>/events.jsonl (the run folder is the truth), plus a short human line on stderr.
 */
import * as fs from 'node:fs';
import { createEvent, encodeEvent, TrainerEvent, TrainerEventBody } from '../protocol/events';

export interface EventSinkOptions {
  /** JSON lines go here (usually process.stdout); omitted = file only. */
  stdout?: NodeJS.WritableStream;
  /** Human progress goes here (usually process.stderr). */
  stderr?: NodeJS.WritableStream;
  /** Redraw a progress line on stderr (a terminal). */
  interactive?: boolean;
}

export class EventSink {
  private lastStepLine = 0;

  constructor(
    readonly runId: string,
    private readonly file: string,
    private readonly opts: EventSinkOptions = {},
  ) {
    endPartialLine(file);
  }

  emit<B extends TrainerEventBody>(body: B): TrainerEvent {
    const event = createEvent(this.runId, body) as unknown as TrainerEvent;
    const line = encodeEvent(event) + '\n';
    // Synchronous append: a killed process loses at most the line being written.
    fs.appendFileSync(this.file, line);
    this.opts.stdout?.write(line);
    this.human(event);
    return event;
  }

  private human(e: TrainerEvent): void {
    const err = this.opts.stderr;
    if (!err) return;
    const clear = this.opts.interactive ? '\r\x1b[K' : '';
    switch (e.type) {
      case 'run-started':
        err.write(
          `${clear}run ${e.runId} (${e.backend.kind}${e.backend.kernels ? `, ${e.backend.kernels} kernels` : ''}) → ${e.runDir}\n` +
            `${e.backend.nativeUnavailable ? `  no native kernels: ${e.backend.nativeUnavailable}\n` : ''}` +
            `  teacher ${e.params.teacher.total.toLocaleString('en-US')} params, student ${e.params.student.total.toLocaleString('en-US')} params; ` +
            `${e.dataset.train} train / ${e.dataset.eval} dev examples; ${e.plan.stages.length} stage(s)` +
            `${e.resumedFrom ? `; resumed from step ${e.resumedFrom.step}` : ''}\n`,
        );
        break;
      case 'stage-started':
        err.write(
          `${clear}stage ${e.stage + 1}: ${e.name} (${e.kind}, up to ${e.epochs} epoch(s), ${e.stepsPlanned} steps)\n`,
        );
        break;
      case 'step': {
        const now = Date.now();
        if (!this.opts.interactive || now - this.lastStepLine < 200) return;
        this.lastStepLine = now;
        err.write(
          `${clear}  step ${e.step} epoch ${e.epoch} loss ${e.loss.toFixed(4)} lr ${e.lr.toExponential(2)} ${e.examplesPerSec.toFixed(1)} ex/s`,
        );
        break;
      }
      case 'eval': {
        const layers = e.perLayer
          .map((l) => `L${l.student}: kl ${l.attentionKl.toFixed(3)} cos ${l.clsCosine.toFixed(3)}`)
          .join(', ');
        err.write(
          `${clear}  eval step ${e.step}: ${e.mainMetric.name} ${e.mainMetric.value.toFixed(4)}${e.isBest ? ' (best)' : ''}${layers ? ` | ${layers}` : ''}\n`,
        );
        break;
      }
      case 'stage-finished':
        err.write(`${clear}  stage ${e.stage + 1} done (${e.reason})\n`);
        break;
      case 'warning':
        err.write(`${clear}warning: ${e.message}\n`);
        break;
      case 'log':
        if (e.level !== 'debug') err.write(`${clear}${e.message}\n`);
        break;
      case 'run-failed':
        err.write(
          `${clear}run failed: ${e.reason}${e.fix ? `\n  fix: ${e.fix}` : ''}${e.lastCheckpoint ? `\n  last checkpoint: ${e.lastCheckpoint}` : ''}\n`,
        );
        break;
      case 'run-stopped':
        err.write(
          `${clear}run stopped by ${e.signal}; checkpoint ${e.checkpoint ?? '(none)'}; continue with: distillery resume <runDir>\n`,
        );
        break;
      case 'run-finished':
        err.write(`${clear}${e.summary}\n`);
        break;
      default:
        break;
    }
  }
}

/**
 * A process killed mid-write can leave events.jsonl ending in half a line; a resumed run appends
 * after a newline so that its first event is not glued onto the fragment.
 */
function endPartialLine(file: string): void {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return; // no file yet
  }
  try {
    const size = fs.fstatSync(fd).size;
    const last = Buffer.alloc(1);
    if (size > 0 && fs.readSync(fd, last, 0, 1, size - 1) === 1 && last[0] !== 0x0a) fs.appendFileSync(file, '\n');
  } finally {
    fs.closeSync(fd);
  }
}
