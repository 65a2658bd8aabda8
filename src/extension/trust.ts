/**
 * Workspace trust: browsing runs, dashboards and config validation work in Restricted Mode;
 * anything that runs the trainer (a Node process with this workspace's settings and files) needs
 * a trusted workspace.
 */
import * as vscode from 'vscode';

export async function requireTrust(action: string): Promise<boolean> {
  if (vscode.workspace.isTrusted) return true;
  const manage = 'Manage Workspace Trust';
  const choice = await vscode.window.showWarningMessage(
    `Distillery cannot ${action} in Restricted Mode: it would run the trainer, a Node process that executes with this workspace's settings and files. Trust the workspace to ${action}.`,
    manage,
  );
  if (choice === manage) await vscode.commands.executeCommand('workbench.trust.manage');
  return false;
}
