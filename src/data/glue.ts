/**
 * Reader for the official GLUE TSV files. Quoting is off (split on tabs only), as in the GLUE
 * reference loaders: some fields start with an unbalanced `"` (STS-B dev, RTE train), and a
 * quote-aware reader would merge rows. Columns are found by header name where the file has a
 * header, because test files drop the label column and reorder the rest.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../util/errors';
import type { Dataset, Example } from './examples';
import { GLUE_TASKS, type GlueTaskName, type Split, type TaskSpec } from './tasks';
import { quoteCells, readTextFile, splitLines, splitTsvLine } from './tsv';

/** Column names of headerless files, for error messages. */
const HEADERLESS_COLUMN_NAMES: Partial<Record<GlueTaskName, string[]>> = {
  cola: ['source', 'label', 'mark', 'sentence'],
};

/** Text column of a test file for tasks whose train/dev files have no header (CoLA test: `index\tsentence`). */
const TEST_TEXT_HEADER_FALLBACK = 'sentence';

/** Where each field of a row is. */
interface RowLayout {
  /** Number of tab-separated cells every row must have. */
  width: number;
  /** Names of the cells, for error messages. */
  names: string[];
  textA: number;
  textB?: number;
  /** Null when the file has no label column (test splits). */
  label: number | null;
}

function fileNameFor(task: TaskSpec, split: Split): string {
  const name = task.files[split];
  if (name === undefined) {
    const splits = Object.keys(task.files).join(', ');
    throw new UserError(`${task.dirName} has no '${split}' split`, { fix: `use one of: ${splits}` });
  }
  return name;
}

/**
 * The path of a split's file. `dataDir` is the task folder (e.g. `glue/SST-2`); when the file is
 * not there but is in `dataDir/<task folder>`, that path is returned instead, so the GLUE root
 * folder works too.
 */
export function glueSplitFile(task: TaskSpec, dataDir: string, split: Split): string {
  const name = fileNameFor(task, split);
  const direct = path.join(dataDir, name);
  if (!fs.existsSync(direct)) {
    const nested = path.join(dataDir, task.dirName, name);
    if (fs.existsSync(nested)) return nested;
  }
  return direct;
}

/** What the user set: a run config's fields, or the eval verb's flags. */
export interface GlueSettingNames {
  task: string;
  dataDir: string;
}

const CONFIG_SETTINGS: GlueSettingNames = { task: 'task.name', dataDir: 'task.dataDir' };

function missingFileError(
  task: TaskSpec,
  dataDir: string,
  split: Split,
  file: string,
  names: GlueSettingNames,
): UserError {
  const expected = [...new Set(Object.values(task.files))].join(', ');
  const folder = path.dirname(file);
  if (!fs.existsSync(folder)) {
    return new UserError(`${task.dirName} data folder not found (looking for ${path.basename(file)})`, {
      where: folder,
      fix: `point ${names.dataDir} at the GLUE ${task.dirName} folder; it should hold ${expected}`,
    });
  }
  const reconstructed = `${file}.RECONSTRUCTED`;
  const fix = fs.existsSync(reconstructed)
    ? `${path.basename(reconstructed)} is there; copy it to ${path.basename(file)} if its provenance is acceptable (see the data's SOURCES.md)`
    : `the folder ${dataDir} should hold ${expected} (the GLUE ${task.dirName} download)`;
  return new UserError(`${task.dirName} ${split} file not found`, { where: file, fix });
}

/** Names of other GLUE tasks whose files could start with these cells, for "wrong task?" hints. */
function guessTasks(firstCells: string[], exclude: TaskSpec): string[] {
  const trimmed = firstCells.map((c) => c.trim());
  const out: string[] = [];
  for (const spec of Object.values(GLUE_TASKS)) {
    if (spec.name === exclude.name) continue;
    if (!spec.hasHeader) {
      const names = HEADERLESS_COLUMN_NAMES[spec.name];
      const labelIdx = typeof spec.label === 'object' ? spec.label.index : -1;
      if (names && trimmed.length === names.length && spec.labels.includes(trimmed[labelIdx] ?? ''))
        out.push(spec.dirName);
      continue;
    }
    const required = [
      spec.textA.header,
      spec.textB?.header,
      typeof spec.label === 'object' ? spec.label.header : undefined,
    ];
    if (required.every((h) => h === undefined || trimmed.includes(h))) out.push(spec.dirName);
  }
  return out;
}

function wrongTaskFix(task: TaskSpec, cells: string[], names: GlueSettingNames): string | undefined {
  const guesses = guessTasks(cells, task);
  if (guesses.length === 0) return undefined;
  return `this looks like a ${guesses.join(' or ')} file, not ${task.dirName}; check ${names.task} and ${names.dataDir}`;
}

function layoutFromHeader(
  task: TaskSpec,
  split: Split,
  header: string[],
  file: string,
  settings: GlueSettingNames,
): RowLayout {
  const names = header.map((h) => h.trim());
  const isTest = split === 'test';
  const textAName = task.textA.header ?? (isTest ? TEST_TEXT_HEADER_FALLBACK : undefined);
  const wanted: string[] = [];
  if (textAName) wanted.push(textAName);
  if (task.textB?.header) wanted.push(task.textB.header);
  const labelName = typeof task.label === 'object' ? task.label.header : undefined;
  if (labelName && !isTest) wanted.push(labelName);
  const missing = wanted.filter((w) => !names.includes(w));
  if (textAName === undefined || missing.length > 0) {
    throw new UserError(
      `the first line should be the ${task.dirName} ${split} header with the columns ${wanted.map((w) => `'${w}'`).join(', ')}; ` +
        `it has ${names.length} column${names.length === 1 ? '' : 's'}: ${quoteCells(names)}`,
      {
        where: `${file}:1`,
        fix: wrongTaskFix(task, header, settings) ?? `use the official GLUE ${task.dirName} files`,
      },
    );
  }
  let label: number | null = null;
  if (task.label === 'last') label = isTest ? null : names.length - 1;
  else if (labelName && names.includes(labelName)) label = names.indexOf(labelName); // test files may keep labels
  return {
    width: names.length,
    names,
    textA: names.indexOf(textAName),
    textB: task.textB?.header ? names.indexOf(task.textB.header) : undefined,
    label,
  };
}

function fixedLayout(task: TaskSpec): RowLayout {
  const label = typeof task.label === 'object' ? task.label.index : -1;
  const maxIndex = Math.max(task.textA.index, task.textB?.index ?? 0, label);
  const names = HEADERLESS_COLUMN_NAMES[task.name] ?? Array.from({ length: maxIndex + 1 }, (_, i) => `column ${i + 1}`);
  return {
    width: names.length,
    names,
    textA: task.textA.index,
    textB: task.textB?.index,
    label: label >= 0 ? label : null,
  };
}

/**
 * Reads one split of a GLUE task. Classification labels become ids through `task.labels`; STS-B
 * scores are parsed as floats; unlabelled test files give `label: null`.
 */
export function readGlueSplit(
  task: TaskSpec,
  dataDir: string,
  split: Split,
  names: GlueSettingNames = CONFIG_SETTINGS,
): Dataset {
  const file = glueSplitFile(task, dataDir, split);
  if (!fs.existsSync(file)) throw missingFileError(task, dataDir, split, file, names);
  const lines = splitLines(readTextFile(file, `${task.dirName} ${split} file`));
  // Every official GLUE test file has a header, even CoLA's.
  const hasHeader = task.hasHeader || split === 'test';
  if (lines.length === 0) throw new UserError(`the ${task.dirName} ${split} file is empty`, { where: file });
  const layout = hasHeader ? layoutFromHeader(task, split, splitTsvLine(lines[0]), file, names) : fixedLayout(task);
  const first = hasHeader ? 1 : 0;
  if (lines.length <= first)
    throw new UserError(`the ${task.dirName} ${split} file has a header but no rows`, { where: file });

  const labelIds = new Map(task.labels.map((name, id) => [name, id]));
  const examples: Example[] = new Array(lines.length - first);
  const { width, textA, textB, label } = layout;
  for (let i = first; i < lines.length; i++) {
    const cells = splitTsvLine(lines[i]);
    const lineNo = i + 1;
    if (cells.length !== width) {
      const fix = i === 0 ? wrongTaskFix(task, cells, names) : undefined;
      throw new UserError(
        `expected ${width} tab-separated columns (${layout.names.join(', ')}), found ${cells.length}`,
        {
          where: `${file}:${lineNo}`,
          fix:
            fix ??
            'GLUE files are read with quoting off; a tab inside a text or a row broken over two lines gives this; repair the row or use the official file',
        },
      );
    }
    let value: number | null = null;
    if (label !== null) {
      const raw = cells[label].trim();
      if (task.isRegression) {
        value = Number(raw);
        if (raw === '' || !Number.isFinite(value)) {
          throw new UserError(`${layout.names[label]} '${raw}' is not a number`, {
            where: `${file}:${lineNo}`,
            fix: `${task.dirName} scores are decimal numbers such as 3.800`,
          });
        }
      } else {
        const id = labelIds.get(raw);
        if (id === undefined) {
          throw new UserError(
            `unknown label '${raw}' in column '${layout.names[label]}'; expected one of ${task.labels.map((l) => `'${l}'`).join(', ')}`,
            {
              where: `${file}:${lineNo}`,
              fix: wrongTaskFix(task, splitTsvLine(lines[0]), names),
            },
          );
        }
        value = id;
      }
    }
    examples[i - first] =
      textB !== undefined
        ? { index: i - first, line: lineNo, textA: cells[textA], textB: cells[textB], label: value }
        : { index: i - first, line: lineNo, textA: cells[textA], label: value };
  }
  return { task: task.name, split, file, examples, labels: [...task.labels], isRegression: task.isRegression };
}
