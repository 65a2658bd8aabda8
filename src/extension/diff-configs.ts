/**
 * "Diff Configs": VS Code's diff editor on two runs' resolved config.json, to see everything that
 * differed between them (the compare table shows only the flattened fields). Called from the Runs
 * tree (one run, or two selected), the Command Palette (asks) and the compare view's button.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { runConfigPath } from '../experiment/run-configs';
import { runDirsOf } from './command-args';

export interface DiffConfigsDeps {
  /** The run's name as the Runs tree shows it. */
  label(runDir: string): string;
  /** Lets the user pick runs (resolves to run folders), leaving out `exclude`. */
  pickRuns(exclude: readonly string[], placeHolder: string): Thenable<string[] | undefined>;
}

/** The two runs to diff: the selection when it holds two or more, else the argument plus a pick. */
export async function diffConfigs(deps: DiffConfigsDeps, arg: unknown, selected?: unknown): Promise<void> {
  let dirs = runDirsOf(selected);
  if (dirs.length < 2) dirs = runDirsOf(arg);
  if (dirs.length < 2) {
    const first = dirs[0];
    const picked = await deps.pickRuns(
      dirs,
      first ? `Diff the config of ${deps.label(first)} with…` : 'Pick two runs to diff their configs',
    );
    if (!picked) return;
    dirs = [...new Set([...dirs, ...picked.map((d) => path.resolve(d))])];
  }
  if (dirs.length !== 2) {
    void vscode.window.showInformationMessage(
      `Distillery: Diff Configs compares exactly two runs (${dirs.length} given).`,
    );
    return;
  }
  const [a, b] = dirs;
  const missing = dirs.filter((d) => !fs.existsSync(runConfigPath(d)));
  if (missing.length > 0) {
    void vscode.window.showInformationMessage(
      `Distillery: ${missing.map((d) => deps.label(d)).join(' and ')} has no config.json yet.`,
    );
    return;
  }
  await vscode.commands.executeCommand(
    'vscode.diff',
    vscode.Uri.file(runConfigPath(a)),
    vscode.Uri.file(runConfigPath(b)),
    `config.json: ${deps.label(a)} ↔ ${deps.label(b)}`,
  );
}
