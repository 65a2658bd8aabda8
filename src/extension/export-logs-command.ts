/**
 * "Export Logs": a run's losses, learning rate and metrics as TensorBoard event files or one tidy
 * CSV, as `distillery export-logs` writes them. It only reads events.jsonl and writes into the run
 * folder (no tensor math, no trainer process), so it runs in the extension host, also in
 * Restricted Mode.
 */
import * as vscode from 'vscode';
import { exportLogs, ExportLogsResult, LogFormat } from '../logs/export-logs';
import { isUserError } from '../util/errors';

export const LOG_FORMAT_ITEMS: ReadonlyArray<vscode.QuickPickItem & { format: LogFormat }> = [
  {
    label: 'TensorBoard',
    description: 'events.out.tfevents.* for tensorboard --logdir, W&B and MLflow importers',
    format: 'tensorboard',
  },
  { label: 'CSV', description: 'one tidy scalars.csv: step, wall_time, tag, value', format: 'csv' },
];

export interface ExportLogsDeps {
  /** The run folder: from the tree node or path passed, else asked for. */
  runDir(): Promise<string | undefined>;
}

/** Asks for the format, writes the files, and offers to reveal them. Returns what was written. */
export async function exportRunLogs(deps: ExportLogsDeps): Promise<ExportLogsResult | undefined> {
  const runDir = await deps.runDir();
  if (!runDir) return undefined;
  const picked = await vscode.window.showQuickPick(LOG_FORMAT_ITEMS, {
    placeHolder: 'Export the logs in which format?',
  });
  if (!picked) return undefined;
  let r: ExportLogsResult;
  try {
    r = exportLogs(runDir, { format: picked.format });
  } catch (e) {
    // A user error (no events yet, a folder that is not a run) says what to do; anything else is
    // left to the command wrapper, which logs the stack.
    if (!isUserError(e)) throw e;
    void vscode.window.showErrorMessage(`Distillery: could not export the logs: ${e.describe()}`);
    return undefined;
  }
  const choice = await vscode.window.showInformationMessage(
    `Distillery: wrote ${r.scalars} points of ${r.tags.length} series over ${r.steps} steps to ${r.file}`,
    'Reveal',
  );
  if (choice) await vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(r.file));
  return r;
}
