/**
 * Distillery: New Experiment — a short guided flow (teacher, task and data, student size,
 * algorithm, name) that writes a *.distill.json and opens it. Before writing it shows what the
 * data and the teacher path decided (maxSeqLen, learning rates, epochs), the parameter counts and
 * the time per epoch on this machine. Escape at any step cancels.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  ALGORITHM_CHOICES,
  DerivedSettings,
  experimentFileName,
  experimentText,
  ExperimentAnswers,
  GLUE_CHOICES,
  glueFolderProblem,
  guessGlueDataDir,
  readHeaderColumns,
  studentLayerChoices,
  suggestName,
  taskSourceOf,
  TaskChoice,
  TeacherChoice,
  teacherPathOf,
  teacherSourceOf,
} from './experiment';
import { readCheckpointLayers } from './checkpoint-info';
import {
  deriveExperimentDefaults,
  describeDefaults,
  SCRATCH_TEACHER,
  type ExperimentDefaults,
} from '../experiment/defaults';
import { measureSpeed, type SpeedProbeHost } from './speed-probe';

const STEPS = 7;
const title = (n: number): string => `Distillery: New Experiment (${n}/${STEPS})`;

interface Pick<T> extends vscode.QuickPickItem {
  value: T;
}

async function pickOne<T>(step: number, placeHolder: string, items: Array<Pick<T>>): Promise<T | undefined> {
  const picked = await vscode.window.showQuickPick(items, {
    title: title(step),
    placeHolder,
    ignoreFocusOut: true,
    matchOnDetail: true,
  });
  return picked?.value;
}

async function pickFolder(step: number, label: string, defaultUri?: vscode.Uri): Promise<string | undefined> {
  const uris = await vscode.window.showOpenDialog({
    title: `${title(step)}: ${label}`,
    canSelectFolders: true,
    canSelectFiles: false,
    canSelectMany: false,
    openLabel: 'Choose',
    ...(defaultUri ? { defaultUri } : {}),
  });
  return uris?.[0]?.fsPath;
}

async function pickFile(step: number, label: string, defaultUri?: vscode.Uri): Promise<string | undefined> {
  const uris = await vscode.window.showOpenDialog({
    title: `${title(step)}: ${label}`,
    canSelectFolders: false,
    canSelectFiles: true,
    canSelectMany: false,
    openLabel: 'Choose',
    filters: { 'Data files': ['tsv', 'csv', 'jsonl', 'ndjson', 'tab'], 'All files': ['*'] },
    ...(defaultUri ? { defaultUri } : {}),
  });
  return uris?.[0]?.fsPath;
}

async function askColumn(
  step: number,
  what: string,
  columns: string[],
  optional: boolean,
): Promise<string | null | undefined> {
  if (columns.length === 0) {
    const v = await vscode.window.showInputBox({
      title: title(step),
      prompt: `The column (header name or JSON field) that holds ${what}${optional ? ' (leave empty for none)' : ''}`,
      ignoreFocusOut: true,
    });
    if (v === undefined) return undefined;
    return v.trim() === '' ? (optional ? null : undefined) : v.trim();
  }
  const items: Array<Pick<string | null>> = columns.map((c) => ({ label: c, value: c }));
  if (optional) items.unshift({ label: '(none)', description: 'single-sentence task', value: null });
  return pickOne(step, `Which column holds ${what}?`, items);
}

async function askTeacher(root: vscode.Uri): Promise<{ teacher: TeacherChoice; layers?: number } | undefined> {
  const kind = await pickOne<'checkpoint' | 'fine-tune' | 'scratch'>(1, 'Where does the teacher come from?', [
    {
      label: '$(folder) A fine-tuned BERT folder',
      detail: 'config.json, model.safetensors and vocab.txt of a model already trained on the task',
      value: 'checkpoint',
    },
    {
      label: '$(mortar-board) Fine-tune a base BERT first',
      detail: 'The run fine-tunes a pre-trained BERT folder on the task, then distils it',
      value: 'fine-tune',
    },
    {
      label: '$(beaker) Train a small teacher from scratch',
      detail: 'No downloads: a 4-layer BERT trained on the task (quick experiments, demos)',
      value: 'scratch',
    },
  ]);
  if (!kind) return undefined;
  if (kind === 'scratch') {
    return { teacher: { kind: 'scratch', ...SCRATCH_TEACHER, epochs: 3 }, layers: SCRATCH_TEACHER.layers };
  }
  const dir = await pickFolder(
    1,
    kind === 'checkpoint' ? 'the fine-tuned teacher folder' : 'the base BERT folder',
    root,
  );
  if (!dir) return undefined;
  const layers = readCheckpointLayers(dir);
  if (layers === undefined) {
    const go = await vscode.window.showWarningMessage(
      `${dir} has no readable config.json; Distillery needs a Hugging Face BERT folder (config.json, model.safetensors, vocab.txt).`,
      'Use it anyway',
    );
    if (!go) return undefined;
  }
  return {
    teacher: kind === 'checkpoint' ? { kind: 'checkpoint', dir } : { kind: 'fine-tune', from: dir, epochs: 3 },
    ...(layers ? { layers } : {}),
  };
}

async function askTask(root: vscode.Uri): Promise<TaskChoice | undefined> {
  const choice = await pickOne<string>(2, 'Which task?', [
    ...GLUE_CHOICES.map((g) => ({ label: g.name, description: `GLUE ${g.dirName}`, detail: g.detail, value: g.name })),
    {
      label: '$(file) Custom data…',
      detail: 'Your own CSV, TSV or JSON-lines files with a text and a label column',
      value: 'custom',
    },
  ]);
  if (!choice) return undefined;
  if (choice !== 'custom') {
    const name = GLUE_CHOICES.find((g) => g.name === choice)?.name;
    if (!name) return undefined;
    for (;;) {
      const guess = guessGlueDataDir(root.fsPath, name);
      const dir = await pickFolder(
        3,
        `the GLUE ${GLUE_CHOICES.find((g) => g.name === name)?.dirName} folder`,
        guess ? vscode.Uri.file(guess) : root,
      );
      if (!dir) return undefined;
      const problem = glueFolderProblem(name, dir);
      if (!problem) return { kind: 'glue', name, dataDir: dir };
      const again = await vscode.window.showWarningMessage(
        `${path.basename(dir)} does not look like the ${name} folder: ${problem}.`,
        'Choose Again',
        'Use It Anyway',
      );
      if (again === 'Use It Anyway') return { kind: 'glue', name, dataDir: dir };
      if (again !== 'Choose Again') return undefined;
    }
  }
  const train = await pickFile(3, 'the training file', root);
  if (!train) return undefined;
  const dev = await pickFile(3, 'the dev (evaluation) file', vscode.Uri.file(path.dirname(train)));
  if (!dev) return undefined;
  const columns = readHeaderColumns(train);
  const textA = await askColumn(3, 'the text (first sentence)', columns, false);
  if (!textA) return undefined;
  const textB = await askColumn(
    3,
    'the second sentence of a pair',
    columns.filter((c) => c !== textA),
    true,
  );
  if (textB === undefined) return undefined;
  const label = await askColumn(
    3,
    'the label',
    columns.filter((c) => c !== textA && c !== textB),
    false,
  );
  if (!label) return undefined;
  return { kind: 'custom', train, dev, textA, ...(textB ? { textB } : {}), label };
}

async function askStudentLayers(teacherLayers: number | undefined): Promise<number | undefined> {
  const items: Array<Pick<number>> = studentLayerChoices(teacherLayers).map((n) => ({
    label: `${n} layers`,
    description: teacherLayers
      ? `${n * 2 === teacherLayers ? 'half the teacher; "every-other" mapping' : `1/${Math.round(teacherLayers / n)} of the teacher; "uniform" mapping`}`
      : undefined,
    value: n,
  }));
  items.push({ label: 'Other…', value: -1 });
  const n = await pickOne(
    4,
    `How many layers should the student have?${teacherLayers ? ` (the teacher has ${teacherLayers})` : ''}`,
    items,
  );
  if (n !== -1) return n;
  const v = await vscode.window.showInputBox({
    title: title(4),
    prompt: 'Student layers',
    ignoreFocusOut: true,
    validateInput: (s) => {
      const k = Number(s);
      if (!Number.isInteger(k) || k < 1) return 'a whole number ≥ 1';
      if (teacherLayers && k > teacherLayers) return `at most the teacher's ${teacherLayers}`;
      return undefined;
    },
  });
  return v === undefined ? undefined : Number(v);
}

/**
 * Step 7: what the data and the teacher path decided, sizes and time per epoch, before anything is
 * written. Returns the settings to write, or undefined when the user cancels.
 */
async function confirmDefaults(
  host: SpeedProbeHost,
  root: vscode.Uri,
  teacher: TeacherChoice,
  task: TaskChoice,
  studentLayers: number,
  file: string,
): Promise<DerivedSettings | null | undefined> {
  let d: ExperimentDefaults;
  try {
    d = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Distillery: reading the data to size the experiment…' },
      async () => {
        // let the notification show before the synchronous read (a second or two for SST-2's 67 000 rows)
        await new Promise((resolve) => setTimeout(resolve, 50));
        return deriveExperimentDefaults({ task: taskSourceOf(task), teacher: teacherSourceOf(teacher), studentLayers });
      },
    );
  } catch (e) {
    // the config can still be written: with the usual defaults, and the validator will point at the data
    const go = await vscode.window.showWarningMessage(
      `Distillery could not size the experiment from its data and teacher: ${(e as Error).message}`,
      {
        modal: true,
        detail:
          "Write the config with maxSeqLen 128 and the teacher path's usual learning rates? Fix the file the message names, then run New Experiment again for measured values.",
      },
      'Write Config',
    );
    return go === 'Write Config' ? null : undefined;
  }
  const speed = vscode.workspace.isTrusted ? await measureSpeed(host, root.fsPath) : undefined;
  const lines = describeDefaults(d, teacherPathOf(teacher), speed);
  const why = speed
    ? ''
    : vscode.workspace.isTrusted
      ? '\n(Time per epoch: the speed measurement failed; see the Distillery log.)'
      : '\n(Time per epoch: not measured in Restricted Mode, which runs no trainer.)';
  const go = await vscode.window.showInformationMessage(
    `${title(7)}: write ${path.basename(file)}?`,
    { modal: true, detail: `${lines.teacher}\n${lines.student}\n${lines.data}${why}` },
    'Write Config',
  );
  if (go !== 'Write Config') return undefined;
  return {
    maxSeqLen: d.maxSeqLen,
    lr: d.lr,
    ...(d.teacherEpochs !== undefined ? { teacherEpochs: d.teacherEpochs } : {}),
  };
}

export async function newExperiment(host: SpeedProbeHost): Promise<vscode.Uri | undefined> {
  const folders = vscode.workspace.workspaceFolders ?? [];
  let folder = folders[0];
  if (!folder) {
    void vscode.window
      .showInformationMessage(
        'Open a folder first: Distillery writes the experiment config and its runs into the workspace.',
        'Open Folder',
      )
      .then((c) => c && vscode.commands.executeCommand('vscode.openFolder'));
    return undefined;
  }
  if (folders.length > 1) {
    const picked = await vscode.window.showWorkspaceFolderPick({ placeHolder: 'Where should the config go?' });
    if (!picked) return undefined;
    folder = picked;
  }
  const root = folder.uri;
  const teacher = await askTeacher(root);
  if (!teacher) return undefined;
  const task = await askTask(root);
  if (!task) return undefined;
  const studentLayers = await askStudentLayers(teacher.layers);
  if (!studentLayers) return undefined;
  const algorithm = await pickOne(
    5,
    'Which distillation algorithm?',
    ALGORITHM_CHOICES.map((a) => ({ label: a.label, detail: a.detail, value: a.id })),
  );
  if (!algorithm) return undefined;
  const name = await vscode.window.showInputBox({
    title: title(6),
    prompt: 'A name for the experiment (also the config file name)',
    value: suggestName(task, algorithm, studentLayers),
    ignoreFocusOut: true,
    validateInput: (s) => (s.trim() ? undefined : 'a name, please'),
  });
  if (!name) return undefined;

  const configDir = root.fsPath;
  const file = path.join(configDir, experimentFileName(name));
  if (fs.existsSync(file)) {
    const over = await vscode.window.showWarningMessage(
      `${path.basename(file)} exists. Replace it?`,
      { modal: true },
      'Replace',
    );
    if (over !== 'Replace') return undefined;
  }
  const derived = await confirmDefaults(host, root, teacher.teacher, task, studentLayers, file);
  if (derived === undefined) return undefined;
  const answers: ExperimentAnswers = {
    name: name.trim(),
    teacher: teacher.teacher,
    ...(teacher.layers ? { teacherLayers: teacher.layers } : {}),
    task,
    studentLayers,
    algorithm,
    configDir,
    ...(derived ? { derived } : {}),
  };
  const uri = vscode.Uri.file(file);
  await vscode.workspace.fs.writeFile(uri, Buffer.from(experimentText(answers), 'utf8'));
  await vscode.window.showTextDocument(uri);
  void vscode.window.showInformationMessage(
    `Wrote ${path.basename(file)}. Check the problems it shows, then "▶ Start run" above the config.`,
  );
  return uri;
}
