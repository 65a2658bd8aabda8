/**
 * Incremental reads of a run's events.jsonl: each read returns only the events appended since the
 * last one, so a watcher can follow a long run without re-reading megabytes on every step.
 */
import * as fs from 'node:fs';
import { EventLineSplitter, parseEventLine, TrainerEvent } from '../protocol/events';

export interface TailRead {
  events: TrainerEvent[];
  /** The file shrank or was replaced: `events` is its whole content, earlier reads are void. */
  reset: boolean;
  /** Lines that were neither events nor recoverable. */
  badLines: number;
}

/** Where a serialized event starts; encodeEvent always writes `v` first. */
const EVENT_START = '{"v":';

/**
 * Parses a line; when it is not JSON but holds an event start after position 0 (a process killed
 * mid-line, then a resumed one appending to the same line), the event after the fragment is kept.
 */
export function parseLineRecovering(line: string): { event?: TrainerEvent; bad: boolean } {
  const first = parseEventLine(line);
  if (first.event) return { event: first.event, bad: false };
  if (first.unknown) return { bad: false };
  if (!first.error) return { bad: false };
  const at = line.lastIndexOf(EVENT_START);
  if (at > 0) {
    const again = parseEventLine(line.slice(at));
    if (again.event) return { event: again.event, bad: true };
  }
  return { bad: true };
}

export class EventFileTail {
  private offset = 0;
  private splitter = new EventLineSplitter();
  private identity: string | undefined;

  constructor(readonly file: string) {}

  /** Bytes consumed so far. */
  get position(): number {
    return this.offset;
  }

  read(): TailRead {
    let st: fs.Stats;
    try {
      st = fs.statSync(this.file);
    } catch {
      const reset = this.offset > 0;
      this.restart();
      return { events: [], reset, badLines: 0 };
    }
    // A smaller file or another inode: it was truncated or replaced, so start over.
    const identity = `${st.dev}:${st.ino}`;
    let reset = false;
    if (st.size < this.offset || (this.identity !== undefined && identity !== this.identity)) {
      this.restart();
      reset = true;
    }
    this.identity = identity;
    if (st.size === this.offset) return { events: [], reset, badLines: 0 };

    const events: TrainerEvent[] = [];
    let badLines = 0;
    const fd = fs.openSync(this.file, 'r');
    try {
      const chunk = Buffer.allocUnsafe(1 << 20);
      while (this.offset < st.size) {
        const n = fs.readSync(fd, chunk, 0, Math.min(chunk.length, st.size - this.offset), this.offset);
        if (n <= 0) break;
        this.offset += n;
        for (const line of this.splitter.push(chunk.subarray(0, n))) {
          if (line.trim() === '') continue;
          const r = parseLineRecovering(line);
          if (r.event) events.push(r.event);
          if (r.bad) badLines++;
        }
      }
    } finally {
      fs.closeSync(fd);
    }
    // An unterminated last line stays in the splitter until its newline arrives.
    return { events, reset, badLines };
  }

  private restart(): void {
    this.offset = 0;
    this.splitter = new EventLineSplitter();
    this.identity = undefined;
  }
}

/** The events in the first `bytes` bytes of a file (what an EventFileTail at that position has seen). */
export function readEventsUpTo(file: string, bytes: number): TrainerEvent[] {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch {
    return [];
  }
  const splitter = new EventLineSplitter();
  const out: TrainerEvent[] = [];
  // The unterminated last line, if any, stays in the splitter, as it does in the tail.
  for (const line of splitter.push(buf.subarray(0, Math.min(bytes, buf.length)))) {
    if (line.trim() === '') continue;
    const r = parseLineRecovering(line);
    if (r.event) out.push(r.event);
  }
  return out;
}
