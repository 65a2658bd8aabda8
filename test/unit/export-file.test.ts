// The host's side of the dashboard's chart export (src/extension/export-file.ts): what the webview
// sends is checked and decoded into the bytes written, and the offered file name is safe.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import {
  decodeExport,
  defaultExportName,
  exportFilters,
  handleExport,
  PNG_SIGNATURE,
  safeFileStem,
  type ExportHost,
} from '../../src/extension/export-file';
import { writeFileAtomic } from '../../src/util/atomic-fs';

/** A real 1×1 PNG (signature, IHDR, IDAT, IEND; CRCs are not checked by the decoder). */
function tinyPng(): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    return Buffer.concat([len, Buffer.from(type, 'ascii'), data, Buffer.alloc(4)]);
  };
  const ihdr = Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0]);
  return Buffer.concat([
    Buffer.from(PNG_SIGNATURE),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.from([0, 255, 0, 0, 255]))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

test('a PNG data URL is decoded to its bytes; not base64, or not a PNG, is refused', () => {
  const png = tinyPng();
  const ok = decodeExport({
    type: 'export',
    format: 'png',
    chart: 'loss',
    data: `data:image/png;base64,${png.toString('base64')}`,
  });
  assert.ok(ok.bytes, ok.problem);
  assert.deepEqual(Buffer.from(ok.bytes), png);

  const gif = Buffer.from('GIF89a\x01\x00\x01\x00', 'latin1').toString('base64');
  assert.match(
    decodeExport({ type: 'export', format: 'png', chart: 'loss', data: `data:image/png;base64,${gif}` }).problem ?? '',
    /PNG signature/,
  );
  assert.match(
    decodeExport({ type: 'export', format: 'png', chart: 'loss', data: 'data:image/png;base64,iVBO Rw0K' }).problem ??
      '',
    /base64/,
  );
  assert.match(
    decodeExport({ type: 'export', format: 'png', chart: 'loss', data: 'data:image/png;base64,iVBORw0KGgo*' })
      .problem ?? '',
    /base64/,
  );
  // only the signature: no image after it
  assert.match(
    decodeExport({
      type: 'export',
      format: 'png',
      chart: 'loss',
      data: `data:image/png;base64,${Buffer.from(PNG_SIGNATURE).toString('base64')}`,
    }).problem ?? '',
    /PNG signature/,
  );
  assert.match(
    decodeExport({ type: 'export', format: 'png', chart: 'loss', data: 'data:image/jpeg;base64,/9j/' }).problem ?? '',
    /data:image\/png/,
  );
});

test('SVG and CSV are written as UTF-8; a text that is not an SVG document is refused', () => {
  const svg =
    '<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"><title>Loss ‖ KL</title></svg>\n';
  assert.equal(
    Buffer.from(decodeExport({ type: 'export', format: 'svg', chart: 'loss', data: svg }).bytes ?? []).toString('utf8'),
    svg,
  );
  assert.ok(decodeExport({ type: 'export', format: 'svg', chart: 'loss', data: '<svg width="1"></svg>' }).bytes);
  for (const bad of ['<html><svg></svg></html>', '<svg', 'hello', '<script>alert(1)</script>']) {
    assert.match(
      decodeExport({ type: 'export', format: 'svg', chart: 'loss', data: bad }).problem ?? '',
      /not an SVG document/,
      bad,
    );
  }
  const csv = 'step,"a,b"\r\n1,2\r\n';
  assert.equal(
    Buffer.from(decodeExport({ type: 'export', format: 'csv', chart: 'loss', data: csv }).bytes ?? []).toString('utf8'),
    csv,
  );
  // the message validator runs first
  assert.match(
    decodeExport({ type: 'export', format: 'csv', chart: '../x', data: csv }).problem ?? '',
    /file-name-safe/,
  );
  assert.match(decodeExport(null).problem ?? '', /not an export message/);
});

test('the offered file name is <run>-<chart>.<ext>, made file-name safe', () => {
  assert.equal(defaultExportName('demo sid', 'loss', 'png'), 'demo-sid-loss.png');
  assert.equal(defaultExportName(undefined, 'loss', 'csv'), 'compare-loss.csv');
  assert.equal(defaultExportName('../../etc/passwd', 'loss', 'svg'), 'etc-passwd-loss.svg');
  assert.equal(safeFileStem('..'), 'export');
  assert.equal(safeFileStem('.hidden'), 'hidden');
  assert.equal(safeFileStem('a\\b:c*d?'), 'a-b-c-d');
  assert.equal(safeFileStem('x'.repeat(200)).length, 80);
  assert.deepEqual(exportFilters('svg'), { 'SVG image': ['svg'] });
});

test('handleExport: offers <run>-<chart>.<ext> in the run folder, writes atomically; refuses before any dialog; reports cancel and write errors', async () => {
  const root = mkdtempSync(join(tmpdir(), 'distillery-export-'));
  try {
    const runDir = join(root, 'runs', 'demo-sid');
    const asked: string[] = [];
    let answer: (p: string) => string | undefined = (p) => p;
    const host: ExportHost = {
      run: (id) => (id === 'sid-1' ? { dir: runDir, label: 'demo sid' } : undefined),
      fallbackFolder: join(root, 'runs'),
      pickFile: async (p, format, chart) => {
        asked.push(`${p} ${format} ${chart}`);
        return answer(p);
      },
      write: writeFileAtomic,
    };
    const png = tinyPng();
    const saved = await handleExport(
      {
        type: 'export',
        format: 'png',
        chart: 'loss',
        runId: 'sid-1',
        data: `data:image/png;base64,${png.toString('base64')}`,
      },
      host,
    );
    assert.deepEqual(saved, { kind: 'saved', file: join(runDir, 'demo-sid-loss.png') });
    assert.deepEqual(readFileSync(join(runDir, 'demo-sid-loss.png')), png);
    assert.deepEqual(readdirSync(runDir), ['demo-sid-loss.png'], 'no temporary file left behind');

    // compare view (no runId) and an unknown run: beside the runs, named compare-<chart>
    assert.deepEqual(await handleExport({ type: 'export', format: 'csv', chart: 'loss', data: 'x,y\r\n' }, host), {
      kind: 'saved',
      file: join(root, 'runs', 'compare-loss.csv'),
    });
    await handleExport({ type: 'export', format: 'csv', chart: 'metric', runId: 'gone', data: 'x\r\n' }, host);
    assert.equal(asked.at(-1), `${join(root, 'runs', 'compare-metric.csv')} csv metric`);

    // refused: no dialog opens
    const n = asked.length;
    const refused = await handleExport(
      { type: 'export', format: 'png', chart: 'loss', runId: 'sid-1', data: 'data:image/png;base64,R0lGODlh' },
      host,
    );
    assert.equal(refused.kind, 'refused');
    assert.equal(
      (await handleExport({ type: 'export', format: 'svg', chart: '../../x', data: '<svg></svg>' }, host)).kind,
      'refused',
    );
    assert.equal(asked.length, n);

    answer = () => undefined;
    assert.deepEqual(await handleExport({ type: 'export', format: 'svg', chart: 'loss', data: '<svg></svg>' }, host), {
      kind: 'cancelled',
    });
    // a file where a folder should be: the write fails, and says so
    const failed = await handleExport(
      { type: 'export', format: 'csv', chart: 'loss', data: 'x\r\n' },
      { ...host, pickFile: async () => join(runDir, 'demo-sid-loss.png', 'x.csv') },
    );
    assert.equal(failed.kind, 'failed');
    assert.ok(!existsSync(join(runDir, 'demo-sid-loss.png', 'x.csv')));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
