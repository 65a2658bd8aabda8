/**
 * The end-to-end harness: a code-server (VS Code 1.100 from .cache/code-server, installed by
 * scripts/setup-e2e.sh) with the packaged .vsix installed, driven by Debian's Chromium through
 * playwright-core. Every process it starts (code-server, its extension host, the trainers the
 * extension spawns, Chromium) is ended in `close()`, on a signal and at exit. A failing step saves
 * the browser console, the code-server and VS Code logs and a screenshot under test-output/e2e/.
 *
 * Synchronisation is by UI state only (locators, data-testid attributes, files on disk), never by
 * fixed sleeps; the one retry is around the command palette, whose list filters asynchronously.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser, type Frame, type Locator, type Page } from 'playwright-core';
import { REPO_ROOT } from '../helpers/paths';
import { isProcessAlive } from '../../src/util/process-alive';

export const CODE_SERVER_DIR =
  process.env.E2E_CODE_SERVER_DIR ?? path.join(REPO_ROOT, '.cache', 'code-server', 'node_modules', 'code-server');
export const VSIX = process.env.E2E_VSIX ?? path.join(REPO_ROOT, '.cache', 'e2e', 'distillery.vsix');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ARTIFACTS = path.join(REPO_ROOT, 'test-output', 'e2e');
/** Generous: CI has 2 cores shared by code-server, Chromium and the trainer. */
export const UI_TIMEOUT = 30_000;

export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export async function until<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = UI_TIMEOUT,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`,
      );
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

// ---- process cleanup ----------------------------------------------------------------------------

/** Every live descendant of `root` (children first found, then theirs), from `ps`. */
function descendants(root: number): number[] {
  const r = spawnSync('ps', ['-eo', 'pid=,ppid='], { encoding: 'utf8' });
  const children = new Map<number, number[]>();
  for (const line of (r.stdout ?? '').split('\n')) {
    const [pid, ppid] = line.trim().split(/\s+/).map(Number);
    if (!pid) continue;
    children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length)
    for (const c of children.get(queue.shift()!) ?? []) {
      out.push(c);
      queue.push(c);
    }
  return out;
}

/** Processes whose command line mentions `needle` (a temp folder of this suite): stray trainers. */
function processesMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    const pid = Number(name);
    if (!pid || pid === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle)) out.push(pid);
    } catch {
      /* gone */
    }
  }
  return out;
}

function kill(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

/** SIGTERM to a process tree (and its process group), SIGKILL to what is left after `graceMs`. */
async function killTree(root: ChildProcess | undefined, extra: () => number[], graceMs = 5_000): Promise<void> {
  const pids = new Set<number>(extra());
  if (root?.pid) {
    pids.add(root.pid);
    for (const p of descendants(root.pid)) pids.add(p);
    try {
      process.kill(-root.pid, 'SIGTERM');
    } catch {
      /* no group */
    }
  }
  kill([...pids], 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while ([...pids].some(isProcessAlive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (root?.pid)
    try {
      process.kill(-root.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  kill([...pids, ...extra()].filter(isProcessAlive), 'SIGKILL');
}

const openSessions = new Set<Session>();
function killAllNow(): void {
  for (const s of openSessions) s.killNow();
}
process.once('exit', killAllNow);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    killAllNow();
    process.exit(128 + (os.constants.signals[sig] ?? 1));
  });
}

// ---- the session --------------------------------------------------------------------------------

export interface SessionOptions {
  /** The folder to open. */
  workspace: string;
  /** false: workspace trust stays on and the folder opens in Restricted Mode. */
  trusted: boolean;
  /** Extra user settings. */
  settings?: Record<string, unknown>;
  /** Artifacts go to test-output/e2e/<name>/. */
  name: string;
  /** The package to install (default VSIX: what the runner packaged). */
  vsix?: string;
}

export class Session {
  readonly home: string;
  readonly userDir: string;
  readonly logFile: string;
  readonly console: string[] = [];
  server: ChildProcess | undefined;
  browser: Browser | undefined;
  page!: Page;
  url = '';
  private settings: Record<string, unknown> = {};

  private constructor(readonly opts: SessionOptions) {
    this.home = tmpDir(`distillery-e2e-${opts.name}-`);
    this.userDir = path.join(this.home, 'user');
    this.logFile = path.join(this.home, 'code-server.log');
  }

  static async start(opts: SessionOptions): Promise<Session> {
    const s = new Session(opts);
    openSessions.add(s);
    try {
      await s.launch();
    } catch (e) {
      await s.saveArtifacts('startup');
      await s.close();
      throw e;
    }
    return s;
  }

  private entry(): string {
    const entry = path.join(CODE_SERVER_DIR, 'out', 'node', 'entry.js');
    if (!fs.existsSync(entry))
      throw new Error(`code-server is not installed at ${CODE_SERVER_DIR}: run \`bash scripts/setup-e2e.sh\``);
    const vsix = this.opts.vsix ?? VSIX;
    if (!fs.existsSync(vsix))
      throw new Error(`${vsix} is missing: run the suite through \`node scripts/run-e2e.mjs\`, which packages it`);
    return entry;
  }

  private async launch(): Promise<void> {
    const entry = this.entry();
    const extDir = path.join(this.home, 'extensions');
    this.settings = {
      'workbench.startupEditor': 'none',
      'workbench.tips.enabled': false,
      'workbench.enableExperiments': false,
      'workbench.colorTheme': 'Default Dark Modern',
      'telemetry.telemetryLevel': 'off',
      'update.mode': 'none',
      'extensions.autoCheckUpdates': false,
      'extensions.autoUpdate': false,
      'extensions.ignoreRecommendations': true,
      'git.enabled': false,
      'window.restoreWindows': 'none',
      'editor.hover.delay': 150,
      // Never steal focus from the command palette with a "do you trust" modal: trust is decided by
      // the flags below.
      'security.workspace.trust.startupPrompt': 'never',
      'security.workspace.trust.enabled': !this.opts.trusted,
      ...this.opts.settings,
    };
    this.writeSettings();

    // Install the packaged extension exactly as a user would.
    const inst = spawnSync(
      process.execPath,
      [
        entry,
        '--user-data-dir',
        this.userDir,
        '--extensions-dir',
        extDir,
        '--install-extension',
        this.opts.vsix ?? VSIX,
      ],
      { encoding: 'utf8', timeout: 120_000, env: this.env() },
    );
    fs.writeFileSync(path.join(this.home, 'install-extension.log'), `${inst.stdout}\n${inst.stderr}`);
    if (inst.status !== 0 || !/successfully installed/i.test(inst.stdout + inst.stderr)) {
      throw new Error(`installing ${this.opts.vsix ?? VSIX} failed (${inst.status}):\n${inst.stdout}\n${inst.stderr}`);
    }

    const port = await freePort();
    const log = fs.openSync(this.logFile, 'a');
    const args = [
      entry,
      '--auth',
      'none',
      '--bind-addr',
      `127.0.0.1:${port}`,
      '--user-data-dir',
      this.userDir,
      '--extensions-dir',
      extDir,
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-getting-started-override',
      '--disable-proxy',
      '--ignore-last-opened',
      ...(this.opts.trusted ? ['--disable-workspace-trust'] : []),
      this.opts.workspace,
    ];
    // Its own process group, so the extension host and the trainers it spawns go down with it.
    this.server = spawn(process.execPath, args, { detached: true, stdio: ['ignore', log, log], env: this.env() });
    fs.closeSync(log);
    const server = this.server;
    await until(
      'code-server to listen',
      () => {
        if (server.exitCode !== null)
          throw new Error(
            `code-server exited (${server.exitCode}):\n${fs.readFileSync(this.logFile, 'utf8').slice(-3000)}`,
          );
        return fs.readFileSync(this.logFile, 'utf8').includes('HTTP server listening on');
      },
      60_000,
    );
    this.url = `http://127.0.0.1:${port}/?folder=${encodeURIComponent(this.opts.workspace)}`;

    this.browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--use-gl=swiftshader',
      ],
    });
    const context = await this.browser.newContext({ viewport: { width: 1600, height: 1000 }, deviceScaleFactor: 1 });
    this.page = await context.newPage();
    this.page.setDefaultTimeout(UI_TIMEOUT);
    const stamp = (): string => new Date().toISOString().slice(11, 23);
    this.page.on('console', (m) => this.console.push(`${stamp()} [${m.type()}] ${m.text()}`));
    this.page.on('pageerror', (e) => this.console.push(`${stamp()} [pageerror] ${e.stack ?? e.message}`));
    this.page.on('crash', () => this.console.push(`${stamp()} [crash] the page crashed`));
    await this.page.goto(this.url, { waitUntil: 'domcontentloaded', timeout: 60_000 });
    await this.page.locator('.monaco-workbench .part.activitybar').waitFor({ state: 'visible', timeout: 90_000 });
    // The folder is open once the Explorer shows its name.
    await this.page.locator('.monaco-workbench .part.statusbar').waitFor({ state: 'visible', timeout: 60_000 });
    // The extension's contributions are registered once its activity bar entry shows.
    await this.page
      .locator(
        '.part.activitybar .action-item a[aria-label^="Distillery"], .part.activitybar .action-item[aria-label^="Distillery"]',
      )
      .first()
      .waitFor({ state: 'attached', timeout: 60_000 });
  }

  /** code-server keeps its config.yaml and state under XDG folders: keep them out of $HOME. */
  private env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      XDG_CONFIG_HOME: path.join(this.home, 'xdg-config'),
      XDG_DATA_HOME: path.join(this.home, 'xdg-data'),
      VSCODE_PROXY_URI: '',
    };
  }

  private writeSettings(): void {
    fs.mkdirSync(path.join(this.userDir, 'User'), { recursive: true });
    fs.writeFileSync(path.join(this.userDir, 'User', 'settings.json'), JSON.stringify(this.settings, null, 2));
  }

  // ---- UI helpers -------------------------------------------------------------------------------

  get quickInput(): Locator {
    return this.page.locator('.quick-input-widget');
  }

  /** Opens the palette (F1) and runs the command whose label is `label` exactly. */
  async command(label: string): Promise<void> {
    await this.retry(`run "${label}" from the command palette`, 3, async () => {
      await this.closeQuickInput();
      await this.page.keyboard.press('F1');
      const input = this.quickInput.locator('.quick-input-box input');
      await input.waitFor({ state: 'visible', timeout: 10_000 });
      await input.fill(`>${label}`, { timeout: 10_000 });
      // The list filters asynchronously and does not always rank the exact match first: wait for
      // the row whose label is exactly the command, select it with the keyboard, accept it. (A
      // mouse click can fall through to the quick pick the command opens at the same place.)
      const exact = new RegExp(`^\\s*${escapeRegExp(label)}\\s*$`);
      const row = this.quickInput
        .locator('.quick-input-list .monaco-list-row')
        .filter({ has: this.page.locator('.label-name', { hasText: exact }) })
        .first();
      // Right after start-up the extension host is still registering commands: be patient.
      await row.waitFor({ state: 'visible', timeout: 20_000 });
      const focused = this.quickInput.locator('.quick-input-list .monaco-list-row.focused .label-name').first();
      await until(
        `"${label}" to be selected in the palette`,
        async () => {
          if (exact.test((await focused.textContent({ timeout: 2_000 }).catch(() => null)) ?? '')) return true;
          await input.press('ArrowDown');
          return false;
        },
        10_000,
        150,
      );
      await input.press('Enter');
      await until(
        `the palette to close after "${label}"`,
        async () => (await input.inputValue().catch(() => '')) !== `>${label}` || !(await input.isVisible()),
        5_000,
      );
    });
  }

  async closeQuickInput(): Promise<void> {
    if (await this.quickInput.isVisible()) {
      await this.page.keyboard.press('Escape');
      await this.quickInput.waitFor({ state: 'hidden', timeout: 5_000 }).catch(() => undefined);
    }
  }

  /**
   * Answers the visible quick pick (not the palette) with the keyboard: types `filter`, moves to
   * the row whose label matches `label` (default: contains `filter`), presses Enter. Not a mouse
   * click: when the pick closes on mouse-up, the click can land on the next question's row.
   */
  async pick(
    filter: string,
    opts: { label?: RegExp; placeholder?: string | RegExp; title?: string | RegExp } = {},
  ): Promise<void> {
    if (opts.title)
      await this.quickInput.locator('.quick-input-title').filter({ hasText: opts.title }).waitFor({ state: 'visible' });
    const input = this.quickInput.locator('.quick-input-box input');
    // Consecutive questions can share a title: the placeholder tells them apart.
    const want = opts.placeholder;
    if (want) {
      await until(`the question "${String(want)}"`, async () => {
        const p = (await input.getAttribute('placeholder', { timeout: 2_000 })) ?? '';
        return typeof want === 'string' ? p.includes(want) : want.test(p);
      });
    }
    const label = opts.label ?? new RegExp(escapeRegExp(filter), 'i');
    await input.fill(filter);
    const focused = this.quickInput.locator('.quick-input-list .monaco-list-row.focused .label-name');
    await until(
      `a row matching ${String(label)} to be selected`,
      async () => {
        const text =
          (await focused
            .first()
            .textContent({ timeout: 2_000 })
            .catch(() => null)) ?? '';
        if (label.test(text.trim())) return true;
        if (text) await input.press('ArrowDown');
        return false;
      },
      UI_TIMEOUT,
      200,
    );
    await input.press('Enter');
  }

  /** Fills the quick input's text box (an input box or the simple file dialog) and accepts it. */
  async answer(text: string, opts: { title?: string | RegExp; prompt?: string | RegExp } = {}): Promise<void> {
    if (opts.title)
      await this.quickInput.locator('.quick-input-title').filter({ hasText: opts.title }).waitFor({ state: 'visible' });
    if (opts.prompt)
      await this.quickInput
        .locator('.quick-input-message, .quick-input-header')
        .filter({ hasText: opts.prompt })
        .first()
        .waitFor({ state: 'visible' });
    const input = this.quickInput.locator('.quick-input-box input');
    await input.waitFor({ state: 'visible' });
    await input.fill(text);
    await until(`the quick input to hold ${text}`, async () => (await input.inputValue()) === text, 5_000);
    await input.press('Enter');
  }

  /**
   * Answers VS Code's simple file dialog (a quick input holding a path, as code-server shows
   * `showOpenDialog`): goes to the folder, picks the entry from the listing, accepts it. The
   * dialog rewrites its text as it lists folders, so the steps wait for each other and retry.
   */
  async chooseFile(file: string, title: string | RegExp): Promise<void> {
    const heading = this.quickInput.locator('.quick-input-title').filter({ hasText: title });
    await heading.waitFor({ state: 'visible' });
    const input = this.quickInput.locator('.quick-input-box input');
    await this.retry(`choose ${file}`, 3, async () => {
      await input.fill(path.dirname(file) + path.sep);
      const entry = this.quickInput
        .locator('.quick-input-list .monaco-list-row')
        .filter({
          has: this.page.locator('.label-name', { hasText: new RegExp(`^${escapeRegExp(path.basename(file))}$`) }),
        })
        .first();
      await entry.waitFor({ state: 'visible', timeout: 15_000 });
      // The folder is listed: now the file's full path stays as typed. Keys, not a click (which
      // can fall through to the next dialog opening at the same place).
      await input.fill(file);
      await until(`the dialog to hold ${file}`, async () => (await input.inputValue()) === file, 5_000);
      await input.press('Enter');
      await heading.waitFor({ state: 'hidden', timeout: 10_000 });
    });
  }

  async retry(what: string, times: number, fn: () => Promise<void>): Promise<void> {
    let last: unknown;
    for (let i = 1; i <= times; i++) {
      try {
        await fn();
        return;
      } catch (e) {
        last = e;
        this.console.push(`[harness] attempt ${i} to ${what} failed: ${String(e)}`);
        // Visible in CI logs even when a later attempt passes, so creeping flakiness shows.
        process.stderr.write(
          `e2e: retrying (attempt ${i} of ${times} to ${what} failed: ${String(e).split('\n')[0]})\n`,
        );
      }
    }
    throw new Error(`could not ${what} after ${times} attempts: ${String(last)}`);
  }

  /**
   * Runs a context-menu item of a tree row. A click the menu swallows (seen in CI: the menu stays
   * open with the item highlighted) is followed by Enter on the highlighted item, which Monaco's
   * menus also take.
   */
  async contextMenu(row: Locator, item: RegExp): Promise<void> {
    await this.page.keyboard.press('Escape');
    await row.click({ button: 'right' });
    const entry = this.page
      .locator('.context-view .action-item, .monaco-menu .action-item')
      .filter({ hasText: item })
      .first();
    await entry.waitFor({ state: 'visible', timeout: 5_000 });
    await entry.click();
    try {
      await entry.waitFor({ state: 'hidden', timeout: 1_500 });
    } catch {
      this.console.push(`[harness] the context menu kept ${item} open after a click; pressing Enter on it`);
      await entry.hover();
      await this.page.keyboard.press('Enter');
      await entry.waitFor({ state: 'hidden', timeout: 5_000 });
    }
  }

  /** A view pane of the sidebar by its title ("Runs", "Configs"). */
  pane(title: string): Locator {
    return this.page
      .locator('.part.sidebar .pane')
      .filter({ has: this.page.locator('.pane-header h3.title', { hasText: new RegExp(`^${title}$`, 'i') }) });
  }

  /** Tree rows of a pane whose text matches. */
  treeRow(paneTitle: string, text: string | RegExp): Locator {
    return this.pane(paneTitle).locator('.monaco-list-row').filter({ hasText: text });
  }

  /** The status bar item the extension contributes for the active run. */
  statusItem(): Locator {
    return this.page
      .locator(
        '.part.statusbar [id="distillery.distillery.distillery.activeRun"], .part.statusbar [id$="distillery.activeRun"]',
      )
      .first();
  }

  /** A notification toast whose message matches. */
  notification(text: string | RegExp): Locator {
    return this.page.locator('.notification-toast').filter({ hasText: text });
  }

  /** The frame of the open dashboard webview (the inner frame of VS Code's nested iframes). */
  async dashboardFrame(testId = 'run-view', timeoutMs = UI_TIMEOUT): Promise<Frame> {
    return until(
      `the dashboard webview (${testId})`,
      async () => {
        for (const f of this.page.frames()) {
          if (f === this.page.mainFrame()) continue;
          if (
            await f
              .locator(`[data-testid="${testId}"]`)
              .count()
              .catch(() => 0)
          )
            return f;
        }
        return undefined;
      },
      timeoutMs,
      250,
    );
  }

  // ---- failure artifacts ------------------------------------------------------------------------

  /** Screenshot, browser console, code-server log and VS Code's own logs, under test-output/e2e/<name>/<step>/. */
  async saveArtifacts(step: string): Promise<string> {
    const dir = path.join(ARTIFACTS, this.opts.name, step.replace(/[^\w.-]+/g, '_'));
    fs.mkdirSync(dir, { recursive: true });
    try {
      if (this.page && !this.page.isClosed())
        await this.page.screenshot({ path: path.join(dir, 'screenshot.png'), timeout: 15_000 });
    } catch (e) {
      this.console.push(`[harness] screenshot failed: ${String(e)}`);
    }
    fs.writeFileSync(path.join(dir, 'browser-console.log'), this.console.join('\n') + '\n');
    for (const f of [this.logFile, path.join(this.home, 'install-extension.log')]) {
      if (fs.existsSync(f)) fs.copyFileSync(f, path.join(dir, path.basename(f)));
    }
    const logs = path.join(this.userDir, 'logs');
    if (fs.existsSync(logs)) fs.cpSync(logs, path.join(dir, 'vscode-logs'), { recursive: true });
    process.stderr.write(`e2e: artifacts of the failed step "${step}" are in ${path.relative(REPO_ROOT, dir)}\n`);
    return dir;
  }

  /** Runs one step; on failure saves the artifacts, then rethrows. */
  async step<T>(name: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      await this.saveArtifacts(name);
      throw e;
    }
  }

  // ---- teardown ---------------------------------------------------------------------------------

  /** Synchronous last resort (process exit): SIGKILL the whole tree. */
  killNow(): void {
    const pids = this.server?.pid ? [this.server.pid, ...descendants(this.server.pid)] : [];
    if (this.server?.pid)
      try {
        process.kill(-this.server.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    kill([...pids, ...processesMentioning(this.opts.workspace), ...processesMentioning(this.home)], 'SIGKILL');
  }

  async close(): Promise<void> {
    openSessions.delete(this);
    await this.browser?.close().catch(() => undefined);
    await killTree(this.server, () => [...processesMentioning(this.opts.workspace), ...processesMentioning(this.home)]);
    const stray = [...processesMentioning(this.opts.workspace), ...processesMentioning(this.home)].filter(
      isProcessAlive,
    );
    if (stray.length) throw new Error(`processes still running after cleanup: ${stray.join(', ')}`);
    // Failed steps copied what they need to test-output/e2e/ already.
    fs.rmSync(this.home, { recursive: true, force: true });
  }
}

/** Distinct colours and whether a canvas has been drawn on, read inside the webview frame. */
export async function canvasStats(
  frame: Frame,
  testId: string,
): Promise<{ width: number; height: number; colours: number }> {
  // The tsconfig has no DOM types: the canvas is described by what is used of it.
  interface Canvas2d {
    width: number;
    height: number;
    getContext(
      kind: '2d',
    ): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null;
  }
  return frame.locator(`[data-testid="${testId}"]`).evaluate((el) => {
    const c = el as unknown as Canvas2d;
    const ctx = c.getContext('2d');
    if (!ctx || c.width === 0 || c.height === 0) return { width: c.width, height: c.height, colours: 0 };
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    const seen = new Set<number>();
    for (let i = 0; i < d.length; i += 4) seen.add(((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]) * 256 + d[i + 3]);
    return { width: c.width, height: c.height, colours: seen.size };
  });
}
