/**
 * The committed study sweeps (repro/*.sweep.json) stay runnable as the config schema changes: each
 * one parses, and every cell of its grid (teacher spec included) validates. Files are not checked:
 * the data, fetched models and earlier sweeps' teachers those cells point at live outside the
 * repository.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { applyOverrides, expandGrid } from '../../src/sweep/grid';
import { readSweepFile } from '../../src/sweep/sweep-file';
import { validateConfig } from '../../src/validate/validate';

const REPRO = path.join(__dirname, '..', '..', 'repro');
const sweepFiles = fs
  .readdirSync(REPRO)
  .filter((f) => f.endsWith('.sweep.json'))
  .sort();

test('repro/ holds the study sweeps, the 12 → 6 ones for all four tasks among them', () => {
  for (const task of ['sst2', 'mrpc', 'cola', 'rte']) {
    assert.ok(sweepFiles.includes(`pretrained-e5-${task}.sweep.json`), `repro/pretrained-e5-${task}.sweep.json`);
  }
});

// Not through planSweep: a plan holds each cell's resolved config, and a config resolves only when
// its teacher's config.json can be read (the student's shape comes from it). So each cell is built
// as planSweep builds it (grid overrides on the base, named by its id) and validated without files.
for (const name of sweepFiles) {
  test(`repro/${name}: every cell validates`, () => {
    const sweep = readSweepFile(path.join(REPRO, name));
    const cells = expandGrid(sweep.axes);
    assert.ok(cells.length > 0, 'the grid expands to at least one cell');
    const problems: string[] = [];
    for (const g of cells) {
      const raw = applyOverrides(sweep.base, g.overrides);
      raw.name = g.id;
      const asFile = path.join(sweep.baseDir, `${g.id}.distill.json`);
      const { config, problems: found } = validateConfig(JSON.stringify(raw), asFile, { checkFiles: false });
      for (const p of found.filter((q) => q.severity === 'error')) problems.push(`${g.id}: ${p.message}`);
      if (config) assert.equal(config.name, g.id);
    }
    assert.deepEqual(problems, []);
  });
}
