/**
 * Host messages waiting to be folded into the dashboard's state, in arrival order. Checking and
 * folding in a message of thousands of steps takes milliseconds (a reopened panel's 'init' can
 * hold a whole run), so each message becomes a job that works in slices, as much as a frame's
 * budget allows, and the rest waits for the next frame. No DOM: the dashboard drains the inbox at
 * the start of each animation frame; the jobs are in ingest.ts.
 */

export interface Job {
  /**
   * Works until done (false) or until performance.now() passes `deadline` (true: call again).
   * Does at least one slice of work per call, so a slow machine still makes progress.
   */
  run(deadline: number): boolean;
  /** Events it has yet to fold in. */
  readonly pending: number;
}

export class Inbox {
  /** Finished jobs are cleared, so their messages can be collected. */
  private queue: (Job | undefined)[] = [];
  private head = 0;

  push(job: Job): void {
    this.queue.push(job);
  }

  /** Events queued and not yet folded in. */
  get backlog(): number {
    let n = 0;
    for (let i = this.head; i < this.queue.length; i++) n += this.queue[i]?.pending ?? 0;
    return n;
  }

  /** Runs the jobs in order until performance.now() passes `deadline`; true when some are left. */
  drain(deadline: number): boolean {
    while (this.head < this.queue.length) {
      if (this.queue[this.head]?.run(deadline)) return true;
      this.queue[this.head++] = undefined;
      if (performance.now() >= deadline) break;
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head >= 1024) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return this.head < this.queue.length;
  }
}
