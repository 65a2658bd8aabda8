/**
 * Events as they cross into the webview. VS Code serializes postMessage payloads as JSON, where
 * NaN and ±Infinity become null and no longer pass the event guards. A diverged run has exactly
 * such values, so events holding them are sent in the trainer's own wire form (encodeEvent: the
 * strings "NaN", "Infinity", "-Infinity"), the same as events.jsonl; the receiver revives them.
 */
import { encodeEvent, TrainerEvent } from '../protocol/events';

function hasNonFinite(x: unknown): boolean {
  if (typeof x === 'number') return !Number.isFinite(x);
  if (Array.isArray(x)) {
    for (const v of x) if (hasNonFinite(v)) return true;
    return false;
  }
  if (x && typeof x === 'object') {
    for (const v of Object.values(x)) if (hasNonFinite(v)) return true;
  }
  return false;
}

/** The event unchanged when JSON carries it faithfully, else its encodeEvent form (a copy). */
export function toWire(e: TrainerEvent): TrainerEvent {
  return hasNonFinite(e) ? (JSON.parse(encodeEvent(e)) as TrainerEvent) : e;
}

export function toWireAll(events: readonly TrainerEvent[]): TrainerEvent[] {
  return events.map(toWire);
}
