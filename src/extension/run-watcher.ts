/**
 * Finds run folders in the workspace (<runsDir>/<id>/run.json at any depth) and keeps them fresh: file
 * watchers for run.json, events.jsonl, checkpoints and exported models, plus a slow poll of
 * running runs (watchers can miss changes on network and remote file systems) that also notices
 * trainers that died without a word.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { RunManager } from './run-manager';
import { listRunFolders } from './run-store';
import { readSettings } from './settings';

const POLL_MS = 2000;

export class RunWatcher implements vscode.Disposable {
  private watchers: vscode.Disposable[] = [];
  private readonly timer: NodeJS.Timeout;
  private runsDir = '';

  constructor(
    private readonly manager: RunManager,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.timer = setInterval(() => this.poll(), POLL_MS);
  }

  /** (Re)creates the watchers for the current runsDir setting and scans the workspace. */
  async start(): Promise<void> {
    const runsDir = readSettings().runsDir;
    if (runsDir !== this.runsDir) {
      for (const w of this.watchers) w.dispose();
      this.watchers = this.watch(runsDir);
      this.runsDir = runsDir;
    }
    await this.scan();
  }

  async scan(): Promise<void> {
    const pattern = `**/${this.runsDir}/*/run.json`;
    const found = await vscode.workspace.findFiles(pattern, '**/node_modules/**', 2000);
    const roots = new Set<string>();
    for (const uri of found) {
      if (uri.scheme !== 'file') continue;
      roots.add(path.dirname(path.dirname(uri.fsPath)));
      this.manager.refreshNow(path.dirname(uri.fsPath));
      // One folder at a time: long events files must not block the extension host in one go.
      await new Promise((r) => setImmediate(r));
    }
    // Folders with events.jsonl but no run.json (a damaged run) are still runs.
    for (const root of roots)
      for (const dir of listRunFolders(root)) if (!this.manager.store.has(dir)) this.manager.refreshNow(dir);
    // Runs the store knows whose folder vanished.
    for (const dir of this.manager.store.runDirs) this.manager.scheduleRefresh(dir);
    this.log.info(`found ${this.manager.store.runDirs.length} run folder(s) under **/${this.runsDir}/`);
  }

  private watch(runsDir: string): vscode.Disposable[] {
    const out: vscode.Disposable[] = [];
    // [glob, how many levels below the run folder the changed path is]
    const patterns: Array<[string, number]> = [
      [`**/${runsDir}/*/{run.json,events.jsonl}`, 1],
      [`**/${runsDir}/*/checkpoints/*`, 2],
      [`**/${runsDir}/*/{student,best}/config.json`, 2],
      [`**/${runsDir}/*`, 0],
    ];
    for (const [glob, depth] of patterns) {
      const w = vscode.workspace.createFileSystemWatcher(glob);
      const runDirOf = (uri: vscode.Uri): string => {
        let p = uri.fsPath;
        for (let i = 0; i < depth; i++) p = path.dirname(p);
        return p;
      };
      const onChange = (uri: vscode.Uri): void => {
        if (uri.scheme === 'file') this.manager.scheduleRefresh(runDirOf(uri));
      };
      out.push(w, w.onDidCreate(onChange), w.onDidChange(onChange), w.onDidDelete(onChange));
    }
    return out;
  }

  private poll(): void {
    for (const s of this.manager.store.states()) if (s.status === 'running') this.manager.scheduleRefresh(s.runDir);
    this.manager.checkLiveness();
  }

  dispose(): void {
    clearInterval(this.timer);
    for (const w of this.watchers) w.dispose();
  }
}
