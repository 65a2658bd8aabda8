// The dashboard panel's own HTML shell (src/extension/dashboard-html.ts: its exact Content Security
// Policy, nonce and element ids) with the real webview bundle, in headless Chromium: the bundle must
// run and style itself under that CSP without a single violation, say 'ready', and render the
// 'init' the host builds from a recorded run (events in their wire form).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, resolve } from 'node:path';
import { build } from 'esbuild';
import { chromium, type Browser, type Page } from 'playwright-core';
import { dashboardHtml, makeNonce } from '../../src/extension/dashboard-html';
import { toWire, toWireAll } from '../../src/extension/wire';
import { parseEventLine, StepEvent, TrainerEvent } from '../../src/protocol/events';
import type { HostMessage } from '../../src/protocol/webview-messages';

const ROOT = resolve(__dirname, '..', '..');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FIXTURE = join(ROOT, 'test', 'fixtures', 'events', 'demo-sid.events.jsonl');
const skip = !existsSync(CHROMIUM) ? `no Chromium at ${CHROMIUM}` : !existsSync(FIXTURE) ? 'no recorded run' : false;

const INIT = `(() => {
  const posted = [];
  const violations = [];
  window.acquireVsCodeApi = () => ({ postMessage: (m) => posted.push(JSON.parse(JSON.stringify(m))), getState: () => undefined, setState: () => undefined });
  document.addEventListener('securitypolicyviolation', (e) => violations.push(e.violatedDirective + ' ' + e.blockedURI));
  window.__panel = { posted: () => posted, violations: () => violations, post: (m) => window.postMessage(m, '*'),
    count: (sel) => document.querySelectorAll(sel).length, text: (sel) => document.querySelector(sel)?.textContent ?? null };
})();`;

describe('dashboard panel shell in Chromium', { skip }, () => {
  let dir = '';
  let server: Server | undefined;
  let browser: Browser | undefined;
  let origin = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'distillery-panel-'));
    await build({
      entryPoints: { webview: join(ROOT, 'webview', 'src', 'main.ts') },
      outdir: dir,
      bundle: true,
      platform: 'browser',
      target: 'es2022',
      format: 'iife',
      loader: { '.css': 'css' },
      logLevel: 'error',
    });
    server = createServer((req, res) => {
      const file = join(dir, (req.url ?? '/').split('?')[0]);
      if (!file.startsWith(dir) || !existsSync(file)) return void res.writeHead(404).end();
      const type =
        { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' }[extname(file)] ??
        'application/octet-stream';
      res.writeHead(200, { 'content-type': type }).end(readFileSync(file));
    });
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const html = dashboardHtml({
      cspSource: origin,
      nonce: makeNonce(),
      scriptUri: `${origin}/webview.js`,
      ...(existsSync(join(dir, 'webview.css')) ? { styleUri: `${origin}/webview.css` } : {}),
      title: 'Distillery: demo-sid',
      view: 'run',
    });
    writeFileSync(join(dir, 'index.html'), html);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
  });

  after(async () => {
    await browser?.close();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function poll(page: Page, expr: string, what: string): Promise<void> {
    const until = Date.now() + 20_000;
    while (!(await page.evaluate(`!!(${expr})`))) {
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 30));
    }
  }

  const events: TrainerEvent[] = existsSync(FIXTURE)
    ? readFileSync(FIXTURE, 'utf8')
        .split('\n')
        .map((l) => parseEventLine(l).event)
        .filter((e): e is TrainerEvent => !!e)
    : [];
  const runId = events[0]?.runId ?? 'run';

  async function openWithInit(): Promise<Page> {
    assert.ok(browser);
    const page = await browser.newPage();
    await page.addInitScript(INIT);
    await page.goto(`${origin}/index.html`);
    await poll(page, `window.__panel.posted().some((m) => m.type === 'ready')`, "the webview's 'ready'");
    const init: HostMessage = {
      type: 'init',
      view: 'run',
      runs: [{ runId, runDir: '/ws/runs/demo-sid', label: 'demo-sid', status: 'finished', events: toWireAll(events) }],
    };
    await page.evaluate(`window.__panel.post(${JSON.stringify(init)})`);
    await poll(page, `window.__panel.count('[data-testid="run-view"]') > 0`, 'the run view');
    return page;
  }

  test("the bundle runs and styles itself under the panel's CSP, then renders the host's init", async () => {
    const page = await openWithInit();
    const violations = (await page.evaluate('window.__panel.violations()')) as string[];
    assert.deepEqual(violations, []);
    const posted = (await page.evaluate('window.__panel.posted()')) as Array<{ type: string; message?: string }>;
    assert.deepEqual(
      posted.filter((m) => m.type === 'error'),
      [],
    );
    assert.equal(await page.evaluate(`window.__panel.text('[data-testid="run-label"]')`), 'demo-sid');
    // The stylesheet applied (served from cspSource): the root got the dashboard's layout class.
    assert.equal(await page.evaluate(`document.getElementById('root').classList.contains('dashboard')`), true);
    if (process.env.DISTILLERY_PANEL_SHOT) await page.screenshot({ path: process.env.DISTILLERY_PANEL_SHOT });
    await page.close();
  });

  test('a diverged step (NaN loss, wire form) is accepted by the webview', async () => {
    const firstStep = events.find((e): e is StepEvent => e.type === 'step');
    assert.ok(firstStep);
    const page = await openWithInit();
    const bad = toWire({ ...firstStep, step: 10_000, loss: NaN });
    await page.evaluate(`window.__panel.post(${JSON.stringify({ type: 'events', runId, events: [bad] })})`);
    await new Promise((r) => setTimeout(r, 300));
    const posted = (await page.evaluate('window.__panel.posted()')) as Array<{ type: string; message?: string }>;
    await page.close();
    assert.deepEqual(
      posted.filter((m) => m.type === 'error'),
      [],
    );
  });
});
