/**
 * The jobs (see inbox.ts) that fold host messages into the dashboard's state. The events of an
 * 'events' or 'init' message are checked a slice at a time, each slice decoded by the protocol's
 * own decoder in a message of the same kind, and applied only once all of them passed: a message
 * with one malformed event is still dropped whole and reported, never shown. No DOM.
 */
import type { TrainerEvent } from '../../src/protocol/events';
import { decodeHostMessage, type HostMessage, type RunSnapshot } from '../../src/protocol/webview-messages';
import type { Job } from './inbox';
import { RunData } from './state';

export type InitMessage = Extract<HostMessage, { type: 'init' }>;
export type StatusMessage = Extract<HostMessage, { type: 'run-status' }>;
export type ConfigFieldsMessage = Extract<HostMessage, { type: 'config-fields' }>;

export interface IngestHandlers {
  /** Checks a whole message: the message, or undefined when it is malformed (and was reported). */
  accept(data: unknown): HostMessage | undefined;
  /** The runs of an 'init', every event folded in: show them. */
  init(view: InitMessage['view'], runs: RunData[]): void;
  /** The run that checked events go to; undefined drops them (the handler reports why). */
  run(runId: string): RunData | undefined;
  status(msg: StatusMessage): void;
  /** The compared runs' differing config fields. */
  configFields(msg: ConfigFieldsMessage): void;
  /** A handler threw: the rest of that message is skipped. */
  failed(type: HostMessage['type'], err: unknown): void;
}

/** Events checked or applied between two looks at the clock (reading it is not free). */
const SLICE = 64;

function isObject(x: unknown): x is Record<string, unknown> {
  return !!x && typeof x === 'object' && !Array.isArray(x);
}

/** Checks a list of events in slices; `wrap` puts a slice in a message, `pick` takes the checked events out of it. */
class SliceCheck {
  private next = 0;
  readonly checked: TrainerEvent[] = [];

  constructor(
    private readonly events: readonly unknown[],
    private readonly wrap: (slice: unknown[]) => unknown,
    private readonly pick: (m: HostMessage) => readonly TrainerEvent[] | undefined,
  ) {}

  run(deadline: number): 'more' | 'done' | 'bad' {
    while (this.next < this.events.length) {
      const slice = this.events.slice(this.next, this.next + SLICE);
      const decoded = decodeHostMessage(this.wrap(slice));
      const events = decoded.message ? this.pick(decoded.message) : undefined;
      if (!events) return 'bad';
      for (const e of events) this.checked.push(e);
      this.next += slice.length;
      if (this.next < this.events.length && performance.now() >= deadline) return 'more';
    }
    return 'done';
  }
}

/** Applies checked events in slices; true while some are left. */
class SliceApply {
  applied = 0;

  constructor(
    private readonly events: readonly TrainerEvent[],
    private readonly apply: (e: TrainerEvent) => void,
  ) {}

  run(deadline: number): boolean {
    const events = this.events;
    while (this.applied < events.length) {
      const stop = Math.min(events.length, this.applied + SLICE);
      // counted before the call: an event that throws is not tried again
      while (this.applied < stop) this.apply(events[this.applied++]);
      if (this.applied < events.length && performance.now() >= deadline) return true;
    }
    return false;
  }
}

/** A message that is not worth slicing (or whose outline is malformed: checking it whole reports why). */
class WholeJob implements Job {
  readonly pending = 0;

  constructor(
    private readonly data: unknown,
    private readonly h: IngestHandlers,
  ) {}

  run(): boolean {
    const msg = this.h.accept(this.data);
    if (!msg) return false;
    try {
      if (msg.type === 'run-status') this.h.status(msg);
      else if (msg.type === 'config-fields') this.h.configFields(msg);
      else if (msg.type === 'init')
        this.h.init(
          msg.view,
          msg.runs.map((s) => RunData.fromSnapshot(s)),
        );
      else {
        const run = this.h.run(msg.runId);
        if (run) for (const e of msg.events) run.apply(e);
      }
    } catch (err) {
      this.h.failed(msg.type, err);
    }
    return false;
  }
}

/** New events of a shown run. */
class EventsJob implements Job {
  private readonly check: SliceCheck;
  private apply: SliceApply | undefined;
  private done = false;

  constructor(
    private readonly data: unknown,
    private readonly runId: string,
    private readonly events: readonly unknown[],
    private readonly h: IngestHandlers,
  ) {
    this.check = new SliceCheck(
      events,
      (slice) => ({ type: 'events', runId, events: slice }),
      (m) => (m.type === 'events' ? m.events : undefined),
    );
  }

  get pending(): number {
    return this.done ? 0 : this.events.length - (this.apply?.applied ?? 0);
  }

  run(deadline: number): boolean {
    if (!this.apply) {
      const checked = this.check.run(deadline);
      if (checked === 'more') return true;
      const run = checked === 'done' ? this.h.run(this.runId) : undefined;
      // a malformed event drops the message: checking it whole reports the exact problem
      if (checked === 'bad') this.h.accept(this.data);
      if (!run) return this.finish();
      this.apply = new SliceApply(this.check.checked, (e) => run.apply(e));
      if (performance.now() >= deadline) return true;
    }
    try {
      if (this.apply.run(deadline)) return true;
    } catch (err) {
      this.h.failed('events', err);
    }
    return this.finish();
  }

  private finish(): false {
    this.done = true;
    return false;
  }
}

/** What an 'init' holds besides the events, checked; undefined when that is malformed. */
function initOutline(
  data: unknown,
): { view: InitMessage['view']; runs: RunSnapshot[]; events: unknown[][] } | undefined {
  if (!isObject(data) || data.type !== 'init' || !Array.isArray(data.runs)) return undefined;
  const given = data.runs as unknown[];
  if (!given.every((r) => isObject(r) && Array.isArray(r.events))) return undefined;
  const runs = given as Record<string, unknown>[];
  const decoded = decodeHostMessage({ ...data, runs: runs.map((r) => ({ ...r, events: [] })) });
  if (decoded.message?.type !== 'init') return undefined;
  return { view: decoded.message.view, runs: decoded.message.runs, events: runs.map((r) => r.events as unknown[]) };
}

/** The runs to show, each replayed from its events (a reopened panel's 'init' can hold a whole run). */
class InitJob implements Job {
  private readonly checks: SliceCheck[];
  private applies: SliceApply[] | undefined;
  private runs: RunData[] = [];
  private at = 0;
  private done = false;

  constructor(
    private readonly data: unknown,
    private readonly outline: NonNullable<ReturnType<typeof initOutline>>,
    private readonly h: IngestHandlers,
  ) {
    const { view, runs } = outline;
    this.checks = outline.events.map(
      (events, i) =>
        new SliceCheck(
          events,
          (slice) => ({ type: 'init', view, runs: [{ ...runs[i], events: slice }] }),
          (m) => (m.type === 'init' ? m.runs[0]?.events : undefined),
        ),
    );
  }

  get pending(): number {
    if (this.done) return 0;
    const total = this.outline.events.reduce((a, e) => a + e.length, 0);
    return total - (this.applies?.reduce((a, s) => a + s.applied, 0) ?? 0);
  }

  run(deadline: number): boolean {
    if (!this.applies) {
      for (; this.at < this.checks.length; this.at++) {
        const checked = this.checks[this.at].run(deadline);
        if (checked === 'more') return true;
        if (checked === 'bad') {
          this.h.accept(this.data); // reports the exact problem
          return this.finish();
        }
      }
      // as RunData.fromSnapshot: replayed, then the host's status (which knows about a dead process)
      this.runs = this.outline.runs.map((s) => new RunData(s.runId, s.runDir, s.label, s.status));
      this.applies = this.runs.map((run, i) => new SliceApply(this.checks[i].checked, (e) => run.apply(e, false)));
      this.at = 0;
      if (performance.now() >= deadline) return true;
    }
    try {
      for (; this.at < this.applies.length; this.at++) if (this.applies[this.at].run(deadline)) return true;
      this.runs.forEach((run, i) => (run.status = this.outline.runs[i].status));
      this.h.init(this.outline.view, this.runs);
    } catch (err) {
      this.h.failed('init', err);
    }
    return this.finish();
  }

  private finish(): false {
    this.done = true;
    return false;
  }
}

/**
 * An 'init' with fewer events is folded in whole, at once: the view is there as soon as the message
 * has been handled, as a host (or a test) that acts right after sending it expects.
 */
export const INIT_SLICED_FROM = 2000;

/** The job that folds in a message as it arrived (unchecked). */
export function ingestJob(data: unknown, h: IngestHandlers): Job {
  if (
    isObject(data) &&
    data.type === 'events' &&
    typeof data.runId === 'string' &&
    data.runId !== '' &&
    Array.isArray(data.events)
  ) {
    return new EventsJob(data, data.runId, data.events, h);
  }
  const outline = initOutline(data);
  const events = outline?.events.reduce((a, e) => a + e.length, 0) ?? 0;
  return outline && events >= INIT_SLICED_FROM ? new InitJob(data, outline, h) : new WholeJob(data, h);
}
