/**
 * Collects a run's new events and hands them on in batches, at most one flush per interval
 * (default 100 ms, so ~10 messages a second however fast the trainer logs steps). The first
 * events after a quiet spell go out at once; later ones wait for the interval to end.
 */
import type { TrainerEvent } from '../protocol/events';

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export class EventBatcher {
  private readonly pending = new Map<string, TrainerEvent[]>();
  private lastFlush = -Infinity;
  private timer: unknown;

  constructor(
    private readonly send: (runId: string, events: TrainerEvent[]) => void,
    private readonly intervalMs = 100,
    private readonly clock: Clock = realClock,
  ) {}

  push(runId: string, events: readonly TrainerEvent[]): void {
    if (events.length === 0) return;
    const list = this.pending.get(runId);
    if (list) list.push(...events);
    else this.pending.set(runId, [...events]);
    this.schedule();
  }

  /** Sends everything pending now. */
  flush(): void {
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.lastFlush = this.clock.now();
    const batches = [...this.pending.entries()];
    this.pending.clear();
    for (const [runId, events] of batches) this.send(runId, events);
  }

  /** Drops what is pending (the receiver will get a full snapshot instead). */
  clear(): void {
    this.pending.clear();
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  get pendingCount(): number {
    let n = 0;
    for (const l of this.pending.values()) n += l.length;
    return n;
  }

  dispose(): void {
    this.clear();
  }

  private schedule(): void {
    if (this.timer !== undefined) return;
    const wait = this.lastFlush + this.intervalMs - this.clock.now();
    if (wait <= 0) {
      this.flush();
      return;
    }
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, wait);
  }
}
