import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  halfToFloat,
  parseSafetensors,
  readSafetensorsFile,
  serializeSafetensors,
  toFloat32,
} from '../../src/model/safetensors';
import { NamedTensors } from '../../src/model/named-tensors';
import { UserError } from '../../src/util/errors';

// The venv's python with numpy; the expectations below are computed there, independently of our decoder.
import { PYTHON } from '../helpers/python';
const hasNumpy = spawnSync(PYTHON, ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0;
const needsNumpy = { skip: hasNumpy ? false : `${PYTHON} with numpy is not available` };

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'distillery-st-'));
}

function python(script: string, args: string[]): string {
  const r = spawnSync(PYTHON, ['-c', script, ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, `python failed:\n${r.stderr}`);
  return r.stdout;
}

/** A safetensors file from an arbitrary header object and data section (for malformed inputs). */
function build(header: unknown, data: Uint8Array = new Uint8Array(0), headerText?: string): Uint8Array {
  const json = Buffer.from(headerText ?? JSON.stringify(header), 'utf8');
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function bits(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

/** Asserts a UserError whose message matches `re` (and whose `where` is `where`, when given). */
function throwsUser(fn: () => unknown, re: RegExp, where?: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UserError, `expected a UserError, got ${String(e)}`);
    assert.match(e.message, re);
    if (where !== undefined) assert.equal(e.where, where);
    return true;
  });
}

// Writes a safetensors file by hand (struct + json + numpy, no safetensors package) with one tensor
// per float dtype, and the float32 each value should decode to (as uint32 bit patterns).
const WRITE_FLOATS_PY = String.raw`
import json, struct, sys
import numpy as np
out_file, expect_file = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(7)
base = (rng.standard_normal(24) * 10).astype(np.float32)
special = np.array([0.0, -0.0, np.inf, -np.inf, 6.1e-5, 5.96e-8, 1e-7, 65504.0, -2.5, 1.0/3.0, 3.0e38, 1e-40], dtype=np.float32)
vals32 = np.concatenate([base, special])
f16 = vals32.astype(np.float16)                       # IEEE round-to-nearest-even, overflow -> inf
u = vals32.view(np.uint32).astype(np.uint64)           # bf16: round-to-nearest-even on the top 16 bits
bf16 = (((u + 0x7FFF + ((u >> 16) & 1)) >> 16) & 0xFFFF).astype(np.uint16)
f64 = np.concatenate([rng.standard_normal(10) * 1e3, np.array([1e-50, 1e300, -1.0 / 3.0, 0.1])]).astype(np.float64)
tensors = {
  'a.f32': ('F32', [6, 6], vals32.reshape(6, 6)),
  'b.f16': ('F16', [3, 12], f16.reshape(3, 12)),
  'c.bf16': ('BF16', [36], bf16),
  'd.f64': ('F64', [2, 7], f64.reshape(2, 7)),
  'e.i32': ('I32', [3], np.array([1, -2, 3], dtype='<i4')),
}
header, blobs, off = {'__metadata__': {'format': 'pt'}}, [], 0
for name, (dt, shape, arr) in tensors.items():
  b = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder('<')).tobytes()
  header[name] = {'dtype': dt, 'shape': shape, 'data_offsets': [off, off + len(b)]}
  blobs.append(b); off += len(b)
h = json.dumps(header).encode()
h += b' ' * ((8 - len(h) % 8) % 8)
open(out_file, 'wb').write(struct.pack('<Q', len(h)) + h + b''.join(blobs))
expect = {
  'a.f32': vals32.view(np.uint32).tolist(),
  'b.f16': f16.astype(np.float32).view(np.uint32).tolist(),
  'c.bf16': (bf16.astype(np.uint32) << 16).view(np.float32).view(np.uint32).tolist(),
  'd.f64': f64.astype(np.float32).view(np.uint32).tolist(),
}
json.dump(expect, open(expect_file, 'w'))
`;

test('F32, F16, BF16 and F64 decode bit-exactly to what numpy computes', needsNumpy, () => {
  const dir = tmpDir();
  const file = path.join(dir, 'floats.safetensors');
  const expectFile = path.join(dir, 'expect.json');
  python(WRITE_FLOATS_PY, [file, expectFile]);
  const expect = JSON.parse(fs.readFileSync(expectFile, 'utf8')) as Record<string, number[]>;
  const st = readSafetensorsFile(file);
  assert.deepEqual(st.metadata, { format: 'pt' });
  assert.deepEqual([...st.entries.keys()].sort(), ['a.f32', 'b.f16', 'c.bf16', 'd.f64', 'e.i32']);
  assert.deepEqual(st.entries.get('b.f16')!.shape, [3, 12]);
  for (const name of Object.keys(expect)) {
    const got = toFloat32(st.entries.get(name)!, file);
    assert.equal(got.length, expect[name].length, name);
    assert.deepEqual(bits(got), expect[name], `${name} decodes differently from numpy`);
  }
  // The F16 tensor includes overflow to inf, subnormals and -0; spot-check the decoded numbers too.
  const f16 = toFloat32(st.entries.get('b.f16')!, file);
  assert.ok(f16.includes(Infinity) && f16.includes(-Infinity));
  assert.ok(Object.is(f16[25], -0));
  fs.rmSync(dir, { recursive: true, force: true });
});

test('halfToFloat agrees with numpy on all 65536 half-precision bit patterns', needsNumpy, () => {
  const r = spawnSync(PYTHON, [
    '-c',
    'import numpy as np, sys; a = np.arange(65536, dtype=np.uint16).view(np.float16).astype("<f4"); sys.stdout.buffer.write(a.tobytes())',
  ]);
  assert.equal(r.status, 0, String(r.stderr));
  const ref = new Float32Array(new Uint8Array(r.stdout).buffer);
  assert.equal(ref.length, 65536);
  let mismatches = 0;
  for (let h = 0; h < 65536; h++) {
    const got = halfToFloat(h);
    const want = ref[h];
    if (Number.isNaN(want) ? !Number.isNaN(got) : !Object.is(Math.fround(got), want)) mismatches++;
  }
  assert.equal(mismatches, 0);
});

test('an integer tensor is refused by toFloat32 with its name and dtype', needsNumpy, () => {
  const dir = tmpDir();
  const file = path.join(dir, 'floats.safetensors');
  python(WRITE_FLOATS_PY, [file, path.join(dir, 'expect.json')]);
  const st = readSafetensorsFile(file);
  throwsUser(() => toFloat32(st.entries.get('e.i32')!, file), /"e\.i32" has dtype I32; only F32, F16, BF16/, file);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('serializeSafetensors writes what a struct+numpy reader reads back exactly', needsNumpy, () => {
  const dir = tmpDir();
  const file = path.join(dir, 'out.safetensors');
  const tensors: NamedTensors = new Map([
    ['z.last', { shape: [2, 3], data: Float32Array.from([1.5, -2.25, 3e-39, -0, 1e30, 7]) }],
    ['a.first', { shape: [5], data: Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.5]) }],
    ['m.scalar', { shape: [], data: Float32Array.from([42]) }],
    ['e.empty', { shape: [0, 4], data: new Float32Array(0) }],
  ]);
  fs.writeFileSync(file, serializeSafetensors(tensors));
  const report = python(
    String.raw`
import json, struct, sys
import numpy as np
raw = open(sys.argv[1], 'rb').read()
(n,) = struct.unpack('<Q', raw[:8])
assert n % 8 == 0, 'header not padded to 8 bytes'
header = json.loads(raw[8:8 + n])
data = raw[8 + n:]
out = {'metadata': header.pop('__metadata__'), 'order': [], 'tensors': {}}
end = 0
for name, info in sorted(header.items(), key=lambda kv: kv[1]['data_offsets'][0]):
  b, e = info['data_offsets']
  assert b == end, 'gap or overlap before ' + name
  end = e
  a = np.frombuffer(data[b:e], dtype='<f4').reshape(info['shape'])
  out['order'].append(name)
  out['tensors'][name] = {'dtype': info['dtype'], 'shape': list(a.shape), 'bits': a.reshape(-1).view(np.uint32).tolist()}
assert end == len(data), 'trailing bytes'
print(json.dumps(out))
`,
    [file],
  );
  const got = JSON.parse(report) as {
    metadata: unknown;
    order: string[];
    tensors: Record<string, { dtype: string; shape: number[]; bits: number[] }>;
  };
  assert.deepEqual(got.metadata, { format: 'pt' });
  assert.deepEqual(Object.keys(got.tensors).sort(), ['a.first', 'e.empty', 'm.scalar', 'z.last']);
  for (const [name, t] of tensors) {
    assert.equal(got.tensors[name].dtype, 'F32');
    assert.deepEqual(got.tensors[name].shape, t.shape, name);
    assert.deepEqual(got.tensors[name].bits, bits(t.data), name);
  }
  // And our own reader agrees.
  const back = readSafetensorsFile(file);
  for (const [name, t] of tensors) assert.deepEqual(bits(toFloat32(back.entries.get(name)!, file)), bits(t.data));
  fs.rmSync(dir, { recursive: true, force: true });
});

test('serializeSafetensors refuses a tensor whose data does not fill its shape', () => {
  assert.throws(
    () => serializeSafetensors(new Map([['x', { shape: [2, 2], data: new Float32Array(3) }]])),
    /3 values for shape \[2, 2\]/,
  );
});

test('a missing file is a UserError naming it', () => {
  const file = path.join(tmpDir(), 'nope.safetensors');
  throwsUser(() => readSafetensorsFile(file), /cannot read the file/, file);
});

test('truncated files are refused', () => {
  const good = serializeSafetensors(new Map([['w', { shape: [4], data: Float32Array.from([1, 2, 3, 4]) }]]));
  throwsUser(() => parseSafetensors(good.subarray(0, 5), 'f'), /only 5 bytes/, 'f');
  throwsUser(() => parseSafetensors(good.subarray(0, 20), 'f'), /the header claims \d+ bytes but the file has 12/, 'f');
  // Header intact, data cut short by 3 bytes.
  throwsUser(
    () => parseSafetensors(good.subarray(0, good.length - 3), 'f'),
    /"w" ends at byte 16 of the data section, which has only 13 bytes/,
  );
  const dir = tmpDir();
  const file = path.join(dir, 'cut.safetensors');
  fs.writeFileSync(file, good.subarray(0, good.length - 1));
  throwsUser(() => readSafetensorsFile(file), /not a valid safetensors file/, file);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a header that is not JSON, or not an object, is refused', () => {
  throwsUser(
    () => parseSafetensors(build(null, undefined, '{"w": {"dtype": "F32",'), 'f'),
    /JSON header does not parse/,
    'f',
  );
  throwsUser(() => parseSafetensors(build([1, 2]), 'f'), /header is not a JSON object/);
  throwsUser(() => parseSafetensors(build(null, undefined, ''), 'f'), /JSON header does not parse/);
  try {
    parseSafetensors(build(null, undefined, '{oops'), 'f');
    assert.fail('expected an error');
  } catch (e) {
    assert.ok(e instanceof UserError);
    assert.match(e.fix ?? '', /truncated or corrupt/);
  }
});

test('malformed tensor entries are refused', () => {
  const data = new Uint8Array(16);
  throwsUser(() => parseSafetensors(build({ w: { shape: [4], data_offsets: [0, 16] } }, data)), /"w" lacks dtype/);
  throwsUser(() => parseSafetensors(build({ w: 'F32' }, data)), /"w" lacks dtype/);
  throwsUser(
    () => parseSafetensors(build({ w: { dtype: 'F32', shape: [-4], data_offsets: [0, 16] } }, data)),
    /"w" has shape \[-4\]/,
  );
  throwsUser(
    () => parseSafetensors(build({ w: { dtype: 'F32', shape: [4], data_offsets: [8, 4] } }, data)),
    /"w" has data_offsets \[8,4\]/,
  );
  throwsUser(
    () => parseSafetensors(build({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16, 20] } }, data)),
    /data_offsets \[0,16,20\]/,
  );
  throwsUser(
    () => parseSafetensors(build({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 16] } }, data)),
    /"w" \(F32, shape \[3\]\) needs 12 bytes but has 16/,
  );
  throwsUser(
    () => parseSafetensors(build({ w: { dtype: 'BF16', shape: [4], data_offsets: [0, 16] } }, data)),
    /needs 8 bytes but has 16/,
  );
  throwsUser(
    () => parseSafetensors(build({ __metadata__: { format: 1 } }, data)),
    /__metadata__ is not an object of strings/,
  );
});

test('overlapping byte ranges are refused; empty tensors and adjacent ranges are not overlaps', () => {
  const data = new Uint8Array(24);
  throwsUser(
    () =>
      parseSafetensors(
        build(
          {
            a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] },
            b: { dtype: 'F32', shape: [2], data_offsets: [12, 20] },
          },
          data,
        ),
      ),
    /tensors "a" and "b" overlap/,
  );
  throwsUser(
    () =>
      parseSafetensors(
        build(
          {
            outer: { dtype: 'F32', shape: [6], data_offsets: [0, 24] },
            inner: { dtype: 'F32', shape: [1], data_offsets: [8, 12] },
          },
          data,
        ),
      ),
    /"outer" and "inner" overlap/,
  );
  // An empty tensor listed first at the same offset as a real one (as writers place them).
  const st = parseSafetensors(
    build(
      {
        b: { dtype: 'F32', shape: [4], data_offsets: [8, 24] },
        empty: { dtype: 'F32', shape: [0], data_offsets: [8, 8] },
        a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      },
      data,
    ),
  );
  assert.deepEqual([...st.entries.keys()].sort(), ['a', 'b', 'empty']);
  assert.equal(st.entries.get('b')!.bytes.length, 16);
  assert.equal(toFloat32(st.entries.get('empty')!, 'f').length, 0);
});

test('tensor bytes are views at the right offsets even when unaligned in the file', () => {
  // Real writers pad the header to 8 bytes; here the data starts unaligned on purpose.
  let header = JSON.stringify({ x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } });
  while ((8 + Buffer.byteLength(header)) % 4 === 0) header += ' ';
  const values = Float32Array.from([3.5, -1.25]);
  const file = build(null, new Uint8Array(values.buffer), header);
  assert.notEqual((8 + Buffer.byteLength(header)) % 4, 0);
  const st = parseSafetensors(file, 'f');
  assert.deepEqual(Array.from(toFloat32(st.entries.get('x')!, 'f')), [3.5, -1.25]);
});

test('unknown dtypes parse but are refused when read as floats', () => {
  const st = parseSafetensors(
    build({ q: { dtype: 'F4_FUTURE', shape: [2], data_offsets: [0, 1] } }, new Uint8Array(1)),
    'f',
  );
  throwsUser(() => toFloat32(st.entries.get('q')!, 'f'), /dtype F4_FUTURE/, 'f');
});
