/**
 * The safetensors format: an 8-byte little-endian header length, a JSON header naming each tensor's
 * dtype, shape and byte range, then the raw bytes. Nothing here executes code from the file.
 * Spec: https://github.com/huggingface/safetensors#format
 */
import * as fs from 'node:fs';
import { UserError } from '../util/errors';
import { NamedTensors, numel } from './named-tensors';

const DTYPE_BYTES: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
  U16: 2,
  U32: 4,
  U64: 8,
  F8_E4M3: 1,
  F8_E5M2: 1,
};

/** dtypes that are read into float32 losslessly (F64 is narrowed). */
export const FLOAT_DTYPES = ['F32', 'F16', 'BF16', 'F64'] as const;

export interface SafetensorsEntry {
  name: string;
  dtype: string;
  shape: number[];
  /** The tensor's raw little-endian bytes (a view into the file buffer). */
  bytes: Uint8Array;
}

export interface SafetensorsFile {
  file: string;
  metadata: Record<string, string>;
  entries: Map<string, SafetensorsEntry>;
}

const MAX_HEADER = 100 * 1024 * 1024;

export function readSafetensorsFile(file: string): SafetensorsFile {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new UserError(`cannot read the file (${(e as Error).message})`, { where: file });
  }
  return parseSafetensors(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), file);
}

export function parseSafetensors(buf: Uint8Array, file = '<safetensors>'): SafetensorsFile {
  const corrupt = (what: string) =>
    new UserError(`not a valid safetensors file: ${what}`, {
      where: file,
      fix: 'the file is truncated or corrupt; copy or export it again',
    });
  if (buf.byteLength < 8) throw corrupt(`only ${buf.byteLength} bytes, shorter than the 8-byte header length`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen > MAX_HEADER || 8 + headerLen > buf.byteLength) {
    throw corrupt(`the header claims ${headerLen} bytes but the file has ${buf.byteLength - 8} after the length`);
  }
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(buf.buffer, buf.byteOffset + 8, headerLen).toString('utf8'));
  } catch (e) {
    throw corrupt(`the JSON header does not parse (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    throw corrupt('the header is not a JSON object');
  const dataStart = 8 + headerLen;
  const dataLen = buf.byteLength - dataStart;
  const entries = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  const ranges: Array<[number, number, string]> = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (
        raw !== null &&
        (typeof raw !== 'object' || Array.isArray(raw) || Object.values(raw).some((v) => typeof v !== 'string'))
      ) {
        throw corrupt('__metadata__ is not an object of strings');
      }
      metadata = (raw ?? {}) as Record<string, string>;
      continue;
    }
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (
      typeof info !== 'object' ||
      info === null ||
      typeof info.dtype !== 'string' ||
      !Array.isArray(info.shape) ||
      !Array.isArray(info.data_offsets)
    ) {
      throw corrupt(`tensor "${name}" lacks dtype, shape or data_offsets`);
    }
    const shape = info.shape as number[];
    if (info.data_offsets.length !== 2)
      throw corrupt(`tensor "${name}" has data_offsets ${JSON.stringify(info.data_offsets)}`);
    const [begin, end] = info.data_offsets as number[];
    if (!shape.every((d) => Number.isInteger(d) && d >= 0))
      throw corrupt(`tensor "${name}" has shape ${JSON.stringify(shape)}`);
    if (!Number.isInteger(begin) || !Number.isInteger(end) || begin < 0 || end < begin) {
      throw corrupt(`tensor "${name}" has data_offsets ${JSON.stringify(info.data_offsets)}`);
    }
    if (end > dataLen) {
      throw corrupt(`tensor "${name}" ends at byte ${end} of the data section, which has only ${dataLen} bytes`);
    }
    const width = DTYPE_BYTES[info.dtype];
    if (width !== undefined && end - begin !== numel(shape) * width) {
      throw corrupt(
        `tensor "${name}" (${info.dtype}, shape [${shape.join(', ')}]) needs ${numel(shape) * width} bytes but has ${end - begin}`,
      );
    }
    // Empty tensors occupy no bytes, so they cannot overlap anything (writers give them [k, k]).
    if (end > begin) ranges.push([begin, end, name]);
    entries.set(name, { name, dtype: info.dtype, shape, bytes: buf.subarray(dataStart + begin, dataStart + end) });
  }
  ranges.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i][0] < ranges[i - 1][1]) throw corrupt(`tensors "${ranges[i - 1][2]}" and "${ranges[i][2]}" overlap`);
  }
  return { file, metadata, entries };
}

/** Reads a float tensor (F32, F16, BF16 or F64) into float32. Other dtypes are refused. */
export function toFloat32(entry: SafetensorsEntry, file: string): Float32Array {
  const n = numel(entry.shape);
  // Copy first: the view into the file buffer need not be aligned for typed arrays.
  const bytes = entry.bytes.slice();
  const dv = new DataView(bytes.buffer);
  const out = new Float32Array(n);
  switch (entry.dtype) {
    case 'F32':
      return new Float32Array(bytes.buffer, 0, n);
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(i * 8, true);
      return out;
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = halfToFloat(dv.getUint16(i * 2, true));
      return out;
    case 'BF16': {
      const u32 = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u32[i] = dv.getUint16(i * 2, true) << 16;
      return out;
    }
    default:
      throw new UserError(
        `tensor "${entry.name}" has dtype ${entry.dtype}; only F32, F16, BF16 (and F64) weights are supported`,
        {
          where: file,
          fix: 'save the model in a floating-point dtype, e.g. model.float() before save_pretrained()',
        },
      );
  }
}

export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Serialises float32 tensors (names sorted, header padded to 8 bytes as the reference writer does). */
export function serializeSafetensors(
  tensors: NamedTensors,
  metadata: Record<string, string> = { format: 'pt' },
): Uint8Array {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    if (t.data.length !== numel(t.shape)) {
      throw new Error(`tensor "${name}": ${t.data.length} values for shape [${t.shape.join(', ')}]`);
    }
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let pos = 8 + json.length;
  for (const name of names) {
    const d = tensors.get(name)!.data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), pos);
    pos += d.byteLength;
  }
  return out;
}
