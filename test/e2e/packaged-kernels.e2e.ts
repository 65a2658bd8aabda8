// The kernels extension users get (issue #20): the platform package (distillery-linux-x64.vsix, from
// scripts/package.mjs) installed in a real VS Code trains on the native kernels it ships. A run
// started from the palette reports `blas` kernels loaded from the installed extension's own
// native/prebuilds/ addon (events.jsonl), its trainer maps no system OpenBLAS or gfortran (the
// addon carries OpenBLAS; LD_LIBRARY_PATH is empty), and the status bar and the dashboard say
// "native kernels". Then the universal package, the slow path: the same run reports wasm kernels
// with the reason, the status bar warns, and the dashboard's note offers the way to the fast
// kernels. Both runs' median examples/s go to test-output/e2e/packaged-kernels/throughput.json.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseEventLine, type RunStartedEvent, type StepEvent, type TrainerEvent } from '../../src/protocol/events';
import { ARTIFACTS, Session, tmpDir, until, UI_TIMEOUT, VSIX } from './harness';
import { makeWorkspace, tinyConfig, E2eWorkspace } from './workspace';
import { writeConfig } from '../helpers/train-fixtures';

const TARGET =
  process.env.E2E_VSIX_TARGET ?? VSIX.match(/-((?:linux|darwin|win32|alpine)-[a-z0-9]+)\.vsix$/)?.[1] ?? 'universal';
const UNIVERSAL = process.env.E2E_UNIVERSAL_VSIX ?? '';
const RUN_TIMEOUT = 240_000;
/** The trainer finds the kernels it is given: nothing from the developer's environment. */
for (const name of ['DISTILLERY_NATIVE_BLAS', 'DISTILLERY_KERNELS']) delete process.env[name];
process.env.LD_LIBRARY_PATH = '';

const throughput: Record<string, { kernels: string | undefined; medianExamplesPerSec: number; steps: number }> = {};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** The run's events so far (a line being written is skipped). */
function events(runDir: string): TrainerEvent[] {
  const file = path.join(runDir, 'events.jsonl');
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((l) => {
      const e = l.trim() ? parseEventLine(l).event : undefined;
      return e ? [e] : [];
    });
}

/** One packaged extension in its own window: start the `kernels` config from the palette. */
function suite(
  name: string,
  vsix: () => string,
  check: (s: Session, runDir: string, started: RunStartedEvent) => Promise<void>,
): void {
  describe(name, { timeout: 600_000 }, () => {
    let ws: E2eWorkspace;
    let s: Session;

    before(
      async () => {
        ws = makeWorkspace(path.join(tmpDir('distillery-e2e-kernels-'), 'project'), { nodePath: process.execPath });
        // 128 steps: long enough to look at the live trainer process, short on either path.
        writeConfig(
          ws.dir,
          'kernels',
          tinyConfig({
            name: 'kernels',
            stages: { epochsPerLayer: 8, classificationEpochs: 8 },
            eval: { everySteps: 64 },
            checkpoint: { everySteps: 1000, keep: 1 },
          }),
        );
        s = await Session.start({
          workspace: ws.dir,
          trusted: true,
          name: `packaged-kernels-${name.split(' ')[0]}`,
          vsix: vsix(),
        });
      },
      { timeout: 300_000 },
    );

    after(
      async () => {
        await s?.close();
        if (ws) fs.rmSync(path.dirname(ws.dir), { recursive: true, force: true });
      },
      { timeout: 60_000 },
    );

    test(
      'a run started from the palette reports its kernels, and the status bar and dashboard show them',
      { timeout: RUN_TIMEOUT + 120_000 },
      () =>
        s.step('run', async () => {
          await s.command('Distillery: Start Run');
          await s.pick('kernels.distill.json', { placeholder: /Which config should run/ });
          const runs = path.join(ws.dir, 'runs');
          const runDir = await until(
            'the run folder',
            () => {
              const dirs = fs.existsSync(runs) ? fs.readdirSync(runs).filter((d) => d.startsWith('kernels-')) : [];
              return dirs.length === 1 ? path.join(runs, dirs[0]) : undefined;
            },
            60_000,
          );
          const started = await until(
            'run-started in events.jsonl',
            () => events(runDir).find((e): e is RunStartedEvent => e.type === 'run-started'),
            90_000,
            250,
          );
          await check(s, runDir, started);

          const runJson = (): { status: string } =>
            JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8')) as { status: string };
          await until(
            'the run to finish',
            () => {
              const st = runJson().status;
              if (st === 'failed')
                throw new Error(`the run failed: ${fs.readFileSync(path.join(runDir, 'run.json'), 'utf8')}`);
              return st === 'finished';
            },
            RUN_TIMEOUT,
            500,
          );
          const steps = events(runDir).filter((e): e is StepEvent => e.type === 'step');
          // The first steps include the backend's warm-up: the median of the second half is the steady pace.
          const rate = median(steps.slice(Math.floor(steps.length / 2)).map((e) => e.examplesPerSec));
          throughput[name] = {
            kernels: started.backend.kernels,
            medianExamplesPerSec: Number(rate.toFixed(1)),
            steps: steps.length,
          };
          process.stderr.write(
            `e2e: ${name}: ${started.backend.kernels} kernels, median ${rate.toFixed(1)} examples/s over the last ${steps.length - Math.floor(steps.length / 2)} of ${steps.length} steps\n`,
          );
          fs.mkdirSync(path.join(ARTIFACTS, 'packaged-kernels'), { recursive: true });
          fs.writeFileSync(
            path.join(ARTIFACTS, 'packaged-kernels', 'throughput.json'),
            JSON.stringify(throughput, null, 2) + '\n',
          );
        }),
    );
  });
}

/** The status bar's kernels item (src/extension/status-bar.ts). */
const kernelsItem = (s: Session) => s.page.locator('.part.statusbar [id$="distillery.kernels"]').first();

if (TARGET === 'universal') {
  test('the platform package', (t) => {
    t.skip(
      "the runner tested the universal package: the native addon could not be built here (see scripts/package.mjs's message)",
    );
  });
} else {
  suite(
    `${TARGET} package (native kernels)`,
    () => VSIX,
    async (s, runDir, started) => {
      const extensions = path.join(s.home, 'extensions');
      assert.equal(started.backend.kind, 'wasm');
      assert.equal(
        started.backend.kernels,
        'blas',
        `the packaged trainer did not use the native kernels: ${started.backend.nativeUnavailable ?? '(no reason given)'}`,
      );
      const addon = started.backend.native?.path ?? '';
      assert.ok(
        addon.startsWith(extensions + path.sep),
        `the addon came from the installed extension (${extensions}), not ${addon}`,
      );
      assert.match(addon, new RegExp(`native[\\\\/]prebuilds[\\\\/]${TARGET}[\\\\/]distillery_blas\\.node$`));
      assert.match(started.backend.native?.library ?? '', /^OpenBLAS/);

      // The live trainer: the addon is mapped and no shared BLAS or Fortran runtime is.
      const pid = (JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8')) as { pid?: number }).pid;
      const maps = pid
        ? (() => {
            try {
              return fs.readFileSync(`/proc/${pid}/maps`, 'utf8');
            } catch {
              return '';
            }
          })()
        : '';
      if (maps) {
        assert.ok(maps.includes(addon), 'the trainer process maps the packaged addon');
        assert.doesNotMatch(
          maps,
          /lib(open)?blas[^/\s]*\.so|libgfortran/,
          'the trainer maps no system BLAS: the addon carries its own',
        );
      } else {
        process.stderr.write(
          'e2e: the trainer had exited before its memory map could be read; the events alone are checked\n',
        );
      }

      await until(
        'the status bar to say "native kernels"',
        async () => /native kernels/.test((await kernelsItem(s).textContent()) ?? ''),
        UI_TIMEOUT,
      );
      const frame = await s.dashboardFrame('run-view', 60_000);
      const note = frame.locator('[data-testid="kernels-note"]');
      await until(
        "the dashboard's kernels note",
        async () => (await note.getAttribute('data-kernels')) === 'blas',
        UI_TIMEOUT,
      );
      assert.equal(await note.getAttribute('data-slow'), 'false');
      assert.match((await note.textContent()) ?? '', /OpenBLAS/);
      await s.page.screenshot({ path: path.join(ARTIFACTS, 'screenshots', 'kernels-native.png') });
    },
  );

  if (UNIVERSAL && fs.existsSync(UNIVERSAL)) {
    suite(
      'universal package (slow path)',
      () => UNIVERSAL,
      async (s, _runDir, started) => {
        assert.equal(started.backend.kernels, 'untransposed');
        assert.equal(started.backend.native, undefined);
        assert.match(started.backend.nativeUnavailable ?? '', /not in this install/);

        const item = kernelsItem(s);
        await until(
          'the status bar to warn of the slow path',
          async () => /slow path/.test((await item.textContent()) ?? ''),
          UI_TIMEOUT,
        );
        const frame = await s.dashboardFrame('run-view', 60_000);
        const note = frame.locator('[data-testid="kernels-note"]');
        await until(
          "the dashboard's slow-path note",
          async () => (await note.getAttribute('data-slow')) === 'true',
          UI_TIMEOUT,
        );
        assert.match((await note.textContent()) ?? '', /distillery-linux-x64\.vsix/);
        await s.page.screenshot({ path: path.join(ARTIFACTS, 'screenshots', 'kernels-slow.png') });
        // The note's button opens the README at the section on the fast kernels.
        await frame.locator('[data-testid="btn-kernels-help"]').click();
        await s.page
          .locator('.tabs-container .tab')
          .filter({ hasText: /readme\.md/i })
          .first()
          .waitFor({ state: 'visible', timeout: UI_TIMEOUT });
      },
    );
  }
}
