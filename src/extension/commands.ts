/**
 * The `distillery.*` commands. Each accepts what its callers pass: nothing (Command Palette, which
 * then asks), a tree node, a Uri (explorer menus, CodeLens) or a path string (tests, links), as
 * command-args.ts reads them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { showKernelsHelp } from './kernels-help';
import type { Launch, RunManager } from './run-manager';
import type { RunState } from './run-state';
import type { RunStore } from './run-store';
import type { DashboardManager } from './dashboard';
import type { ConfigsTreeProvider } from './tree-views';
import { cliErrorMessage, runCliJob } from './cli-job';
import { formatNumber } from './run-state';
import { readSettings } from './settings';
import { requireTrust } from './trust';
import { newExperiment } from './new-experiment';
import { CommandId } from './command-ids';
import { loadValidator } from './load-validator';
import { adviceMessage, adviceStore, parseAdvice } from './mapping-advice';
import { renderAdvice } from '../distill/mapping-report';
import { isConfigDocument, toWorkspaceEdit } from './config-editor';
import { diffConfigs } from './diff-configs';
import { exportRunLogs } from './export-logs-command';
import {
  CommandArgError,
  CommandTarget,
  commandTarget,
  configFileOf,
  fileOf,
  runDirOf,
  runDirsOf,
} from './command-args';

export interface Services {
  context: vscode.ExtensionContext;
  log: vscode.LogOutputChannel;
  manager: RunManager;
  dashboards: DashboardManager;
  configs: ConfigsTreeProvider;
  cliPath(): string;
}

function cwdFor(file: string): string {
  return vscode.workspace.getWorkspaceFolder(vscode.Uri.file(file))?.uri.fsPath ?? path.dirname(file);
}

function runItems(states: RunState[]): Array<vscode.QuickPickItem & { runDir: string }> {
  return [...states]
    .sort((a, b) => (b.startedAt ?? '').localeCompare(a.startedAt ?? ''))
    .map((s) => ({
      label: `${s.status === 'running' ? '$(sync~spin)' : s.status === 'finished' ? '$(pass)' : s.status === 'failed' ? '$(error)' : '$(debug-pause)'} ${s.label}`,
      description: [s.algorithm, s.best ? `${s.best.metric} ${formatNumber(s.best.value)}` : undefined, s.status]
        .filter(Boolean)
        .join(' · '),
      detail: s.runDir,
      runDir: s.runDir,
    }));
}

export async function pickRun(
  svc: Services,
  placeHolder: string,
  filter: (s: RunState) => boolean = () => true,
): Promise<string | undefined> {
  const states = svc.manager.store.states().filter(filter);
  if (states.length === 0) {
    void vscode.window.showInformationMessage(
      `No runs to choose from. ${svc.manager.store.states().length ? '' : 'Start one from a *.distill.json config, or run the demo.'}`,
    );
    return undefined;
  }
  if (states.length === 1) return states[0].runDir;
  return (await vscode.window.showQuickPick(runItems(states), { placeHolder, matchOnDescription: true }))?.runDir;
}

export async function pickRuns(
  store: RunStore,
  exclude: readonly string[],
  placeHolder: string,
): Promise<string[] | undefined> {
  const states = store.states().filter((s) => !exclude.includes(s.runDir));
  if (states.length === 0) {
    void vscode.window.showInformationMessage('No other runs to add.');
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(runItems(states), {
    placeHolder,
    canPickMany: true,
    matchOnDescription: true,
  });
  return picked?.map((p) => p.runDir);
}

async function pickConfig(svc: Services): Promise<string | undefined> {
  const active = vscode.window.activeTextEditor?.document;
  const files = await svc.configs.configFiles();
  if (files.length === 0) {
    const create = await vscode.window.showInformationMessage(
      'There is no *.distill.json config in this workspace.',
      'New Experiment',
      'Run Demo',
    );
    if (create === 'New Experiment') await vscode.commands.executeCommand('distillery.newExperiment');
    if (create === 'Run Demo') await vscode.commands.executeCommand('distillery.runDemo');
    return undefined;
  }
  const items = files.map((f) => ({
    label: path.basename(f),
    description: vscode.workspace.asRelativePath(path.dirname(f)),
    file: f,
  }));
  // The config in the active editor first.
  if (active?.fileName.endsWith('.distill.json'))
    items.sort((a, b) => Number(b.file === active.fileName) - Number(a.file === active.fileName));
  return (await vscode.window.showQuickPick(items, { placeHolder: 'Which config should run?' }))?.file;
}

// ---- notifications ------------------------------------------------------------------------------

/** Tells the user how a launch ended, with the actions that help next. */
export async function notifyLaunchEnd(svc: Services, launch: Launch): Promise<void> {
  const exit = launch.exit;
  if (!exit) return;
  const state = launch.runDir ? svc.manager.store.state(launch.runDir) : undefined;
  const configFile = launch.verb === 'train' ? launch.target : state?.configFile;
  const showLog = 'Show Log';
  const openConfig = 'Open Config';
  const dashboard = 'Open Dashboard';
  if (!launch.runDir || !state) {
    if (exit.code === 0 || exit.stopRequested) return;
    // Failed before the run folder existed: usually a config error or a missing Node.
    const msg = cliErrorMessage({
      stderrTail: launch.stderrTail,
      code: exit.code,
      signal: exit.signal,
      ...(exit.spawnError ? { spawnError: exit.spawnError } : {}),
    });
    const actions = exit.spawnError ? ['Open Settings', showLog] : configFile ? [openConfig, showLog] : [showLog];
    const choice = await vscode.window.showErrorMessage(`Distillery: the run did not start. ${msg}`, ...actions);
    if (choice === showLog) svc.log.show(true);
    if (choice === openConfig && configFile) await vscode.window.showTextDocument(vscode.Uri.file(configFile));
    if (choice === 'Open Settings')
      await vscode.commands.executeCommand('workbench.action.openSettings', 'distillery.nodePath');
    return;
  }
  if (state.status === 'finished') {
    const reveal = 'Reveal Student';
    const choice = await vscode.window.showInformationMessage(
      `Distillery: ${state.label} finished. ${state.message ?? ''}`.trim(),
      dashboard,
      ...(state.studentDir ? [reveal] : []),
    );
    if (choice === dashboard) svc.dashboards.openRun(state.runDir);
    if (choice === reveal && state.studentDir)
      await vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(state.studentDir));
    return;
  }
  if (state.status === 'failed' || (state.status === 'stopped' && state.crashed)) {
    const resume = 'Resume';
    const actions = [showLog, ...(configFile ? [openConfig] : []), ...(state.resumable ? [resume] : [])];
    const why =
      state.message ?? cliErrorMessage({ stderrTail: launch.stderrTail, code: exit.code, signal: exit.signal });
    const choice = await vscode.window.showErrorMessage(
      `Distillery: ${state.label} ${state.status === 'failed' ? 'failed' : 'ended unexpectedly'}: ${why}${state.fix ? ` Fix: ${state.fix}` : ''}`,
      ...actions,
    );
    if (choice === showLog) svc.log.show(true);
    if (choice === openConfig && configFile) await vscode.window.showTextDocument(vscode.Uri.file(configFile));
    if (choice === resume) await vscode.commands.executeCommand('distillery.resumeRun', state.runDir);
  }
}

// ---- commands -----------------------------------------------------------------------------------

async function startRun(svc: Services, target: CommandTarget | undefined): Promise<Launch | undefined> {
  if (!(await requireTrust('start a run'))) return undefined;
  const file = configFileOf(target) ?? (await pickConfig(svc));
  if (!file) return undefined;
  // Run what the user sees: save the editor first.
  const open = vscode.workspace.textDocuments.find((d) => d.fileName === file);
  if (open?.isDirty) await open.save();
  const { validateForEditor } = await loadValidator();
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    void vscode.window.showErrorMessage(`Distillery: cannot read ${file}: ${(e as Error).message}`);
    return undefined;
  }
  const errors = validateForEditor(text, file).all.filter((p) => p.severity === 'error');
  if (errors.length > 0) {
    const first = errors[0];
    const choice = await vscode.window.showErrorMessage(
      `Distillery: ${path.basename(file)} has ${errors.length} error${errors.length === 1 ? '' : 's'}${first.range ? ` (line ${first.range.line}: ${first.message})` : `: ${first.message}`}. Fix ${errors.length === 1 ? 'it' : 'them'} before starting a run.`,
      'Open Config',
      'Show Problems',
    );
    if (choice === 'Open Config' || choice === 'Show Problems') {
      const editor = await vscode.window.showTextDocument(vscode.Uri.file(file));
      if (first.range) {
        const pos = new vscode.Position(first.range.line - 1, first.range.column - 1);
        editor.selection = new vscode.Selection(pos, pos);
        editor.revealRange(new vscode.Range(pos, pos));
      }
      if (choice === 'Show Problems') await vscode.commands.executeCommand('workbench.actions.view.problems');
    }
    return undefined;
  }
  const settings = readSettings(vscode.Uri.file(file));
  const launch = svc.manager.start(file, {
    cwd: cwdFor(file),
    ...(settings.backend ? { backend: settings.backend } : {}),
  });
  void vscode.window.setStatusBarMessage(`$(rocket) Distillery: starting ${path.basename(file)}…`, 5000);
  return launch;
}

async function stopRun(svc: Services, target: CommandTarget | undefined): Promise<void> {
  if (target?.kind === 'launch') {
    // A run still starting, before its folder exists.
    await svc.manager.cancel(target.launchId);
    return;
  }
  const runDir = runDirOf(target) ?? (await pickRun(svc, 'Which run should stop?', (s) => s.status === 'running'));
  if (!runDir) {
    // A launch still starting (no folder yet) can be cancelled from the tree.
    const pending = svc.manager.pendingLaunches();
    if (pending.length === 1 && target === undefined) await svc.manager.cancel(pending[0].id);
    return;
  }
  const state = svc.manager.store.state(runDir);
  if (state?.status !== 'running') {
    void vscode.window.showInformationMessage(`Distillery: ${state?.label ?? path.basename(runDir)} is not running.`);
    return;
  }
  const grace = readSettings().stopGraceMs / 1000;
  await vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: `Stopping ${state.label} (checkpoint, then exit; forced after ${grace} s)…`,
    },
    async () => {
      let r = await svc.manager.stop(runDir);
      if (r === 'not-a-trainer') {
        const pid = state.pid;
        const go = await vscode.window.showWarningMessage(
          `Distillery: process ${pid} (from run.json) could not be confirmed to be this run's trainer. Send it SIGTERM anyway?`,
          { modal: true },
          'Stop It',
        );
        if (go === 'Stop It') r = await svc.manager.stop(runDir, { allowUnverifiedPid: true });
      }
      if (r === 'not-running')
        void vscode.window.showInformationMessage(`Distillery: ${state.label} had already stopped.`);
    },
  );
}

async function resumeRun(svc: Services, target: CommandTarget | undefined): Promise<void> {
  if (!(await requireTrust('resume a run'))) return;
  const runDir = runDirOf(target) ?? (await pickRun(svc, 'Which run should continue?', (s) => s.resumable));
  if (!runDir) return;
  const state = svc.manager.store.state(runDir);
  if (state?.status === 'running') {
    void vscode.window.showInformationMessage(`Distillery: ${state.label} is already running.`);
    return;
  }
  if (state?.status === 'finished') {
    void vscode.window.showInformationMessage(
      `Distillery: ${state.label} has finished; start a new run from its config instead.`,
    );
    return;
  }
  const settings = readSettings(vscode.Uri.file(runDir));
  svc.manager.resume(runDir, { cwd: cwdFor(runDir), ...(settings.backend ? { backend: settings.backend } : {}) });
  svc.dashboards.openRun(runDir);
}

async function openDashboard(svc: Services, target: CommandTarget | undefined): Promise<void> {
  const runDir = runDirOf(target) ?? (await pickRun(svc, 'Open the dashboard of which run?'));
  if (runDir) svc.dashboards.openRun(runDir);
}

async function compareRuns(svc: Services, target: CommandTarget | undefined, selected?: unknown): Promise<void> {
  // From the Runs tree with several runs selected: compare those.
  const fromTree = Array.isArray(selected) ? runDirsOf(selected) : [];
  let runDirs = fromTree.length >= 2 ? fromTree : [];
  if (runDirs.length < 2) {
    const first = runDirOf(target);
    const label = first ? (svc.manager.store.state(first)?.label ?? path.basename(first)) : undefined;
    const picked = await pickRuns(
      svc.manager.store,
      first ? [first] : [],
      label ? `Compare ${label} with…` : 'Pick two or more runs to compare',
    );
    if (!picked) return;
    runDirs = [...new Set([...(first ? [first] : []), ...picked])];
  }
  if (runDirs.length < 2) {
    void vscode.window.showInformationMessage('Distillery: pick at least two runs to compare.');
    return;
  }
  svc.dashboards.openCompare(runDirs);
}

/** The HF model folder to evaluate for a tree node, a path, or a picked run. */
async function modelDirFor(
  svc: Services,
  target: CommandTarget | undefined,
): Promise<{ modelDir: string; runDir?: string } | undefined> {
  if (target?.kind === 'best' || target?.kind === 'student') return { modelDir: target.path, runDir: target.runDir };
  // A path to a model folder (config.json, no run.json) rather than to a run.
  const p = target?.kind === 'path' ? target.path : undefined;
  if (p && fs.existsSync(path.join(p, 'config.json')) && !fs.existsSync(path.join(p, 'run.json')))
    return { modelDir: p };
  const runDir =
    runDirOf(target) ??
    (await pickRun(svc, 'Evaluate the student of which run?', (s) => !!(s.studentDir || s.bestDir)));
  if (!runDir) return undefined;
  const s = svc.manager.store.state(runDir);
  const modelDir = s?.studentDir ?? s?.bestDir;
  if (!modelDir) {
    void vscode.window.showInformationMessage(
      'Distillery: this run has no student model yet (best/ or student/). Training checkpoints are not model folders; export the run first.',
    );
    return undefined;
  }
  return { modelDir, runDir };
}

/** task and data folder for `eval`, from the run's resolved config (runs/<id>/config.json). */
function evalTask(runDir: string | undefined): { task: string; dataDir: string } | { problem: string } {
  if (!runDir) return { problem: 'no run to take the task from' };
  try {
    const cfg = JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8')) as {
      task?: { name?: string; dataDir?: string };
    };
    const name = cfg.task?.name;
    if (!name) return { problem: "the run's config.json has no task" };
    if (name === 'custom')
      return {
        problem:
          "`eval` scores GLUE tasks; for a custom task, the dev metrics of every evaluation are in the run's dashboard",
      };
    if (!cfg.task?.dataDir) return { problem: "the run's config.json has no task.dataDir" };
    return { task: name, dataDir: cfg.task.dataDir };
  } catch (e) {
    return { problem: `cannot read the run's config.json (${(e as Error).message})` };
  }
}

async function runJob(
  svc: Services,
  title: string,
  args: string[],
  cwd: string,
): Promise<{ ok: boolean; stdout: string; message: string } | undefined> {
  const settings = readSettings(vscode.Uri.file(cwd));
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title, cancellable: true },
    async (_progress, token) => {
      const abort = new AbortController();
      token.onCancellationRequested(() => abort.abort());
      svc.log.info(`${settings.nodePath} ${[svc.cliPath(), ...args].join(' ')}`);
      const r = await runCliJob({
        nodePath: settings.nodePath,
        args: [svc.cliPath(), ...args],
        cwd,
        env: { ...process.env, ...settings.env },
        onStderr: (l) => svc.log.info(`[${args[0]}] ${l}`),
        signal: abort.signal,
        graceMs: settings.stopGraceMs,
      });
      if (r.cancelled) return undefined;
      return { ok: r.code === 0, stdout: r.stdout, message: r.code === 0 ? '' : cliErrorMessage(r) };
    },
  );
}

async function evaluate(svc: Services, on: CommandTarget | undefined): Promise<void> {
  if (!(await requireTrust('evaluate a model'))) return;
  const target = await modelDirFor(svc, on);
  if (!target) return;
  const t = evalTask(target.runDir);
  if ('problem' in t) {
    void vscode.window.showInformationMessage(
      `Distillery: cannot evaluate ${path.basename(target.modelDir)}: ${t.problem}.`,
    );
    return;
  }
  const settings = readSettings();
  const args = [
    'eval',
    target.modelDir,
    '--task',
    t.task,
    '--data',
    t.dataDir,
    '--json',
    ...(settings.backend ? ['--backend', settings.backend] : []),
  ];
  const r = await runJob(
    svc,
    `Evaluating ${path.basename(target.modelDir)} on ${t.task} dev…`,
    args,
    target.runDir ? cwdFor(target.runDir) : path.dirname(target.modelDir),
  );
  if (!r) return;
  if (!r.ok) {
    const choice = await vscode.window.showErrorMessage(`Distillery: evaluation failed: ${r.message}`, 'Show Log');
    if (choice) svc.log.show(true);
    return;
  }
  try {
    const res = JSON.parse(r.stdout) as {
      task: string;
      split: string;
      examples: number;
      metrics: Record<string, number>;
      backend: string;
    };
    const metrics = Object.entries(res.metrics)
      .map(([k, v]) => `${k} ${formatNumber(v)}`)
      .join(', ');
    svc.log.info(`eval ${target.modelDir}: ${JSON.stringify(res)}`);
    void vscode.window.showInformationMessage(
      `Distillery: ${res.task} ${res.split} (${res.examples} examples, ${res.backend}): ${metrics || 'no labels, no metrics'}`,
    );
  } catch {
    void vscode.window
      .showWarningMessage('Distillery: the evaluation finished but printed no JSON result; see the log.', 'Show Log')
      .then((c) => c && svc.log.show(true));
  }
}

type ExportFormat = 'hf' | 'onnx' | 'both';

const EXPORT_FORMAT_ITEMS: ReadonlyArray<vscode.QuickPickItem & { format: ExportFormat }> = [
  {
    format: 'hf',
    label: 'Hugging Face folder',
    description: 'student/',
    detail: 'config.json, model.safetensors, vocab.txt: BertForSequenceClassification.from_pretrained loads it',
  },
  {
    format: 'onnx',
    label: 'ONNX',
    description: 'student-onnx/',
    detail: 'model.onnx (opset 17) with config.json and the tokenizer files, for ONNX Runtime',
  },
  {
    format: 'both',
    label: 'Both',
    description: 'student/',
    detail: 'the Hugging Face folder with model.onnx beside it',
  },
];

interface ExportJson {
  dir?: string;
  onnx?: { file: string; verified: boolean; maxLogitDiff?: number; note?: string };
}

async function exportStudent(svc: Services, target: CommandTarget | undefined): Promise<void> {
  if (!(await requireTrust('export a student'))) return;
  const runDir =
    runDirOf(target) ??
    (await pickRun(svc, 'Export the student of which run?', (s) => !!s.bestDir || s.checkpoints.length > 0));
  if (!runDir) return;
  const picked = await vscode.window.showQuickPick(EXPORT_FORMAT_ITEMS, {
    placeHolder: 'Export the student in which format?',
  });
  if (!picked) return;
  const settings = readSettings();
  const args = [
    'export',
    runDir,
    '--format',
    picked.format,
    '--json',
    ...(settings.backend ? ['--backend', settings.backend] : []),
  ];
  const r = await runJob(svc, `Exporting the student of ${path.basename(runDir)}…`, args, cwdFor(runDir));
  if (!r) return;
  svc.manager.scheduleRefresh(runDir, 0);
  if (!r.ok) {
    const choice = await vscode.window.showErrorMessage(`Distillery: export failed: ${r.message}`, 'Show Log');
    if (choice) svc.log.show(true);
    return;
  }
  let dir = path.join(runDir, picked.format === 'onnx' ? 'student-onnx' : 'student');
  let res: ExportJson = {};
  try {
    res = JSON.parse(r.stdout) as ExportJson;
    if (res.dir) dir = res.dir;
  } catch {
    // The folder is the default one.
  }
  const what =
    picked.format === 'hf' ? 'Hugging Face layout' : picked.format === 'onnx' ? 'ONNX' : 'Hugging Face layout and ONNX';
  // The bundled trainer does not ship onnxruntime-node (native, large): then model.onnx is unchecked.
  const check = !res.onnx
    ? ''
    : res.onnx.verified
      ? ` ONNX Runtime matches the trained model (max logit difference ${res.onnx.maxLogitDiff?.toExponential(1)}).`
      : ` model.onnx was not checked: ${res.onnx.note ?? 'ONNX Runtime is not available'} (or set distillery.cliPath to a checkout that has it).`;
  const show = res.onnx && !res.onnx.verified ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
  const choice = await show(`Distillery: exported the student to ${dir} (${what}).${check}`, 'Reveal');
  if (choice) await vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(dir));
}

async function revealRunFolder(svc: Services, target: CommandTarget | undefined): Promise<void> {
  const p = fileOf(target) ?? (await pickRun(svc, 'Reveal which run folder?'));
  if (!p) return;
  const uri = vscode.Uri.file(p);
  if (vscode.workspace.getWorkspaceFolder(uri)) await vscode.commands.executeCommand('revealInExplorer', uri);
  else await vscode.commands.executeCommand('revealFileInOS', uri);
}

async function runDemo(svc: Services): Promise<void> {
  if (!(await requireTrust('run the demo'))) return;
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder) {
    void vscode.window.showInformationMessage(
      'Open a folder first: the demo writes its data, configs and runs into the workspace.',
    );
    return;
  }
  const dir = path.join(folder.uri.fsPath, 'distillery-demo');
  const settings = readSettings(folder.uri);
  const r = await runJob(
    svc,
    'Distillery demo: generating a task, training a teacher, distilling soft / pid / sid students from 100 sentences (a few minutes)…',
    ['demo', '--dir', dir, '--quick', '--json', ...(settings.backend ? ['--backend', settings.backend] : [])],
    folder.uri.fsPath,
  );
  svc.configs.refresh();
  if (!r) return;
  if (!r.ok) {
    const choice = await vscode.window.showErrorMessage(`Distillery: the demo failed: ${r.message}`, 'Show Log');
    if (choice) svc.log.show(true);
    return;
  }
  const choice = await vscode.window.showInformationMessage(
    'Distillery: the demo finished. Compare its soft, pid and sid students?',
    'Compare Runs',
  );
  if (choice) {
    // the students only: the teacher-only run has no student stage to compare
    const demoRuns = svc.manager.store
      .states()
      .filter((s) => s.runDir.startsWith(dir + path.sep) && s.stages.some((st) => st.kind !== 'teacher'))
      .map((s) => s.runDir);
    if (demoRuns.length >= 2) svc.dashboards.openCompare(demoRuns);
    else await vscode.commands.executeCommand('distillery.compareRuns');
  }
}

/**
 * Runs `advise-mapping --json` on a config, shows the heatmaps beside it, and offers the proposal
 * as an edit (also kept as a Quick Fix on the config's "mapping").
 */
async function adviseMapping(svc: Services, target: CommandTarget | undefined): Promise<void> {
  if (!(await requireTrust("measure a config's layers"))) return;
  const active = vscode.window.activeTextEditor?.document;
  const file = configFileOf(target) ?? (active && isConfigDocument(active) ? active.fileName : await pickConfig(svc));
  if (!file) return;
  const open = vscode.workspace.textDocuments.find((d) => d.fileName === file);
  if (open?.isDirty) await open.save();
  const settings = readSettings(vscode.Uri.file(file));
  const args = ['advise-mapping', file, '--json', ...(settings.backend ? ['--backend', settings.backend] : [])];
  const r = await runJob(
    svc,
    `Measuring every student–teacher layer pair of ${path.basename(file)}…`,
    args,
    cwdFor(file),
  );
  if (!r) return;
  if (!r.ok) {
    const choice = await vscode.window.showErrorMessage(
      `Distillery: the mapping advice failed: ${r.message}`,
      'Open Config',
      'Show Log',
    );
    if (choice === 'Show Log') svc.log.show(true);
    if (choice === 'Open Config') await vscode.window.showTextDocument(vscode.Uri.file(file));
    return;
  }
  const advice = parseAdvice(r.stdout);
  if (!advice) {
    void vscode.window
      .showWarningMessage('Distillery: advise-mapping finished but printed no advice; see the log.', 'Show Log')
      .then((c) => c && svc.log.show(true));
    return;
  }
  adviceStore.set(file, advice);
  const report = renderAdvice(advice);
  svc.log.info(`advise-mapping ${file}:\n${report}`);
  const reportDoc = await vscode.workspace.openTextDocument({ content: report, language: 'plaintext' });
  await vscode.window.showTextDocument(reportDoc, {
    viewColumn: vscode.ViewColumn.Beside,
    preview: true,
    preserveFocus: true,
  });
  if (advice.comparison.same) {
    void vscode.window.showInformationMessage(`Distillery: ${adviceMessage(advice)}`);
    return;
  }
  const apply = 'Apply to Config';
  if ((await vscode.window.showInformationMessage(`Distillery: ${adviceMessage(advice)}`, apply)) !== apply) return;
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(file));
  const [fix] = (await loadValidator()).advisedMappingFix(doc.getText(), advice.proposed);
  if (fix) await vscode.workspace.applyEdit(toWorkspaceEdit(doc, fix.edits));
  await vscode.window.showTextDocument(doc);
}

export function registerCommands(svc: Services, refreshRuns: () => Promise<void>): vscode.Disposable[] {
  const reg = (id: CommandId, fn: (...args: unknown[]) => unknown): vscode.Disposable =>
    vscode.commands.registerCommand(id, async (...args: unknown[]) => {
      try {
        return await fn(...args);
      } catch (e) {
        svc.log.error(`${id}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
        // A bad argument says which command got it.
        const message = `${e instanceof CommandArgError ? `${id}: ` : ''}${e instanceof Error ? e.message : String(e)}`;
        const choice = await vscode.window.showErrorMessage(`Distillery: ${message}`, 'Show Log');
        if (choice) svc.log.show(true);
        return undefined;
      }
    });
  return [
    reg('distillery.newExperiment', () => newExperiment(svc)),
    reg('distillery.startRun', (arg) => startRun(svc, commandTarget(arg))),
    reg('distillery.stopRun', (arg) => stopRun(svc, commandTarget(arg))),
    reg('distillery.resumeRun', (arg) => resumeRun(svc, commandTarget(arg))),
    reg('distillery.openDashboard', (arg) => openDashboard(svc, commandTarget(arg))),
    reg('distillery.compareRuns', (arg, selected) => compareRuns(svc, commandTarget(arg), selected)),
    reg('distillery.evaluateCheckpoint', (arg) => evaluate(svc, commandTarget(arg))),
    reg('distillery.exportStudent', (arg) => exportStudent(svc, commandTarget(arg))),
    reg('distillery.exportLogs', (arg) => {
      const runDir = runDirOf(commandTarget(arg));
      return exportRunLogs({ runDir: async () => runDir ?? (await pickRun(svc, 'Export the logs of which run?')) });
    }),
    reg('distillery.showTrainerLog', () => svc.log.show()),
    reg('distillery.revealRunFolder', (arg) => revealRunFolder(svc, commandTarget(arg))),
    reg('distillery.runDemo', () => runDemo(svc)),
    reg('distillery.refreshRuns', () => refreshRuns()),
    reg('distillery.refreshConfigs', () => svc.configs.refresh()),
    reg('distillery.adviseMapping', (arg) => adviseMapping(svc, commandTarget(arg))),
    reg('distillery.showKernelsHelp', () => showKernelsHelp(svc.context.extensionPath)),
    reg('distillery.diffConfigs', (arg, selected) =>
      diffConfigs(
        {
          label: (d) => svc.manager.store.state(d)?.label ?? path.basename(d),
          pickRuns: (exclude, placeHolder) => pickRuns(svc.manager.store, exclude, placeHolder),
        },
        arg,
        selected,
      ),
    ),
  ];
}
