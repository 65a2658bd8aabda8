/**
 * TensorBoard event files, written without TensorFlow: the TFRecord framing around serialized
 * `Event` protobufs (tensorboard/compat/proto/event.proto, summary.proto). The schema used is tiny,
 * so it is encoded by hand rather than through a protobuf library:
 *
 *   Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
 *   Summary { repeated Value value = 1; }
 *   Value   { string tag = 1; float simple_value = 2; }
 *
 * A record is: uint64 length (little-endian), masked CRC-32C of those 8 bytes, the data, masked
 * CRC-32C of the data.
 */
import { maskedCrc32c } from './crc32c';

export interface ScalarValue {
  tag: string;
  /** Stored as a 32-bit float: TensorBoard's simple_value has no double form. */
  value: number;
}

export type TfEvent =
  { wallTime: number; step: number; fileVersion: string } | { wallTime: number; step: number; scalars: ScalarValue[] };

/** The first record of every event file; readers use it to recognise the format version. */
export const FILE_VERSION = 'brain.Event:2';

/** A growable byte buffer with the protobuf wire primitives this schema needs. */
class ProtoWriter {
  private buf = new Uint8Array(64);
  private len = 0;

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  /** Unsigned varint of a non-negative safe integer (steps, lengths, tags). */
  varint(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`varint needs a non-negative safe integer, got ${n}`);
    this.reserve(10);
    // Division, not bit shifts: shifts would truncate values above 2³¹.
    while (n >= 0x80) {
      this.buf[this.len++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.len++] = n;
  }

  tag(field: number, wireType: number): void {
    this.varint(field * 8 + wireType);
  }

  double(field: number, x: number): void {
    this.tag(field, 1);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, x, true);
    this.bytes(b);
  }

  float(field: number, x: number): void {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, x, true);
    this.bytes(b);
  }

  string(field: number, s: string): void {
    this.message(field, new TextEncoder().encode(s));
  }

  /** A length-delimited field (a string's UTF-8 or an embedded message). */
  message(field: number, body: Uint8Array): void {
    this.tag(field, 2);
    this.varint(body.length);
    this.bytes(body);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** One `Event` message, serialized. */
export function encodeTfEvent(e: TfEvent): Uint8Array {
  const w = new ProtoWriter();
  w.double(1, e.wallTime);
  // int64 step: negative steps would need ten-byte two's complement; the trainer's are >= 0.
  if (e.step !== 0) {
    w.tag(2, 0);
    w.varint(e.step);
  }
  if ('fileVersion' in e) {
    w.string(3, e.fileVersion);
  } else {
    const summary = new ProtoWriter();
    for (const s of e.scalars) {
      const v = new ProtoWriter();
      v.string(1, s.tag);
      v.float(2, s.value);
      summary.message(1, v.finish());
    }
    w.message(5, summary.finish());
  }
  return w.finish();
}

/** Frames one serialized record: length, its checksum, the data, its checksum. */
export function frameRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + 4 + data.length + 4);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

/** A whole event file: the file_version record, then the events in the order given. */
export function encodeEventFile(events: readonly TfEvent[], firstWallTime: number): Uint8Array {
  const records = [frameRecord(encodeTfEvent({ wallTime: firstWallTime, step: 0, fileVersion: FILE_VERSION }))];
  for (const e of events) records.push(frameRecord(encodeTfEvent(e)));
  const out = new Uint8Array(records.reduce((n, r) => n + r.length, 0));
  let at = 0;
  for (const r of records) {
    out.set(r, at);
    at += r.length;
  }
  return out;
}

/** `events.out.tfevents.<unix seconds>.<hostname>`, the name TensorBoard's loaders look for. */
export function eventFileName(unixSeconds: number, hostname: string): string {
  const host = hostname.replace(/[^A-Za-z0-9._-]+/g, '-') || 'localhost';
  return `events.out.tfevents.${Math.floor(unixSeconds)}.${host}`;
}
