/**
 * "Distillery: Get the Fast Training Kernels": opens the extension's own README at the section on
 * the native kernels (the installed README is the one that matches this build, and it is there
 * offline). The status bar's kernels item and the dashboard's slow-path note lead here.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { KERNELS_HELP_HEADING } from '../protocol/kernels-note';

export async function showKernelsHelp(extensionPath: string): Promise<void> {
  // vsce stores README.md as readme.md; a development host has README.md.
  const name = fs.readdirSync(extensionPath).find((f) => /^readme\.md$/i.test(f));
  if (!name)
    throw new Error(
      `${extensionPath} has no README.md; the fast kernels are described in the README's "${KERNELS_HELP_HEADING}" section`,
    );
  const readme = path.join(extensionPath, name);
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(readme));
  const line = doc
    .getText()
    .split(/\r?\n/)
    .findIndex((l) => /^#+\s/.test(l) && l.includes(KERNELS_HELP_HEADING));
  if (line < 0)
    throw new Error(
      `${readme} has no "${KERNELS_HELP_HEADING}" section; see the Performance section of the README instead`,
    );
  const at = new vscode.Position(line, 0);
  const editor = await vscode.window.showTextDocument(doc, { selection: new vscode.Range(at, at), preview: true });
  editor.revealRange(new vscode.Range(at, at), vscode.TextEditorRevealType.AtTop);
}
