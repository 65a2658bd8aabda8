import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { closest } from '../args';
import { Verb, BACKEND_FLAG, JSON_FLAG } from '../verb';
import { writeJson, writeLine } from '../io';
import { openModel, parseBackendFlag } from '../model-session';
import { ProgressBar } from '../progress';
import { findGlueTask, GLUE_TASK_NAMES, Split } from '../../data/tasks';
import { readGlueSplit } from '../../data/glue';
import { makeBatch } from '../../data/batching';
import { computeMetrics } from '../../metrics/metrics';
import { toBertInputs, disposeInputs } from '../../model/inputs';
import { topRowsFor } from '../../distill/objective';
import { UserError } from '../../util/errors';
import { writeFileAtomic } from '../../util/atomic-fs';

export interface EvalResult {
  backend: string;
  model: string;
  task: string;
  split: string;
  file: string;
  examples: number;
  metrics: Record<string, number>;
  notes: string[];
}

const SPLITS: Split[] = ['train', 'dev', 'dev_mismatched', 'test'];

export const evalVerb: Verb = {
  name: 'eval',
  summary: "evaluate a checkpoint on a GLUE split and print the task's metrics",
  positionals: [{ name: 'modelDir', description: 'a BERT folder with a task head' }],
  flags: [
    { name: 'task', type: 'string', value: 'NAME', description: `GLUE task: ${GLUE_TASK_NAMES.join(', ')}` },
    { name: 'data', type: 'string', value: 'DIR', description: "folder with the task's TSV files (e.g. glue/SST-2)" },
    {
      name: 'split',
      type: 'string',
      value: 'SPLIT',
      description: 'train, dev (default), dev_mismatched (MNLI) or test',
    },
    {
      name: 'predictions',
      type: 'string',
      value: 'FILE',
      description: 'write "index<TAB>prediction" rows in file order (GLUE submission layout)',
    },
    { name: 'batch-size', type: 'number', value: 'N', description: 'examples per forward pass (default 32)' },
    { name: 'max-len', type: 'number', value: 'N', description: 'maximum tokens per example (default 128)' },
    JSON_FLAG,
    BACKEND_FLAG,
  ],
  details: 'example: distillery eval runs/demo-sid/student --task sst2 --data ../glue/SST-2 --json',
  async run(flags, io) {
    const taskName = flags.string('task');
    const dataDir = flags.string('data');
    if (!taskName)
      throw new UserError('this option is required', {
        where: '--task',
        fix: `pass --task with one of ${GLUE_TASK_NAMES.join(', ')}`,
      });
    const task = findGlueTask(taskName);
    if (!task) {
      const guess = closest(taskName.toLowerCase().replace(/[-_\s]/g, ''), GLUE_TASK_NAMES);
      throw new UserError(`unknown task "${taskName}"`, {
        where: '--task',
        fix: `${guess ? `did you mean ${guess}? ` : ''}use one of ${GLUE_TASK_NAMES.join(', ')}`,
      });
    }
    if (!dataDir) {
      throw new UserError('this option is required', {
        where: '--data',
        fix: `pass --data with the folder that holds the task's TSV files (the GLUE ${task.dirName} folder)`,
      });
    }
    const split = (flags.string('split') ?? 'dev') as Split;
    if (!SPLITS.includes(split) || !task.files[split]) {
      throw new UserError(`task ${task.name} has no split "${split}"`, {
        where: '--split',
        fix: `use one of ${SPLITS.filter((s) => task.files[s]).join(', ')}`,
      });
    }
    const batchSize = flags.integer('batch-size', 1) ?? 32;
    const maxLenFlag = flags.integer('max-len', task.textB ? 3 : 2);
    // Checked here so the message speaks of the flag, not of a config field.
    if (!isDirectory(dataDir)) {
      throw new UserError('no such folder', {
        where: dataDir,
        fix: `pass --data with the GLUE ${task.dirName} folder (it holds ${Object.values(task.files).join(', ')})`,
      });
    }
    const dataset = readGlueSplit(task, dataDir, split, { task: '--task', dataDir: '--data' });
    const session = await openModel(flags.positionals[0], {
      backend: parseBackendFlag(flags.string('backend')),
      numLabels: task.isRegression ? 1 : task.labels.length,
      // A regression task has no class names; an empty list would ask for a zero-class head.
      labels: task.isRegression ? undefined : task.labels,
      regression: task.isRegression,
    });
    const { model, tokenizer, checkpoint, backend } = session;
    const notes = [...checkpoint.notes];
    if (!checkpoint.hasHead)
      notes.push('this checkpoint has no trained task head, so these metrics measure a randomly initialised head');
    for (const note of notes) writeLine(io.stderr, `note: ${note}`);
    writeLine(io.stderr, `backend: ${backend.kind}`);

    const maxLen = Math.min(maxLenFlag ?? 128, checkpoint.config.maxPositionEmbeddings);
    const encodings = dataset.examples.map((ex) => tokenizer.encode(ex.textA, ex.textB, maxLen));
    // Batch by length so padding is small; predictions go back to file order afterwards.
    const order = encodings
      .map((_, i) => i)
      .sort((a, b) => encodings[a].inputIds.length - encodings[b].inputIds.length);
    const predictions = new Array<number>(encodings.length);
    const bar = new ProgressBar(io.stderr, io.interactive, encodings.length, 'eval');
    for (let s = 0; s < order.length; s += batchSize) {
      const rows = order.slice(s, s + batchSize);
      const batch = makeBatch(
        rows.map((i) => encodings[i]),
        rows.map((i) => dataset.examples[i].label),
        rows,
        tokenizer.padId,
      );
      const inputs = toBertInputs(batch);
      const logits = tf.tidy(() => {
        // Only the logits are read: the top layer computes its [CLS] rows alone (exact, see bert.ts).
        const out = model.forward(inputs, {
          training: false,
          keep: { hiddenStates: [], attentions: [] },
          topRows: topRowsFor({ hiddenStates: [] }, model.config.numHiddenLayers),
        });
        return out.logits;
      });
      const values = await logits.array();
      tf.dispose(logits);
      disposeInputs(inputs);
      values.forEach((row, j) => {
        predictions[rows[j]] = task.isRegression ? row[0] : row.indexOf(Math.max(...row));
      });
      bar.tick(rows.length);
    }
    bar.finish();
    model.dispose();

    const labelled = dataset.examples.every((e) => e.label !== null);
    const metrics = labelled
      ? computeMetrics(
          task,
          predictions,
          dataset.examples.map((e) => e.label as number),
        )
      : {};
    if (!labelled) {
      const note = `the ${split} split has no labels: no metrics, use --predictions to write them`;
      notes.push(note);
      writeLine(io.stderr, `note: ${note}`);
    }
    const predFile = flags.string('predictions');
    if (predFile) {
      const lines = [
        'index\tprediction',
        ...dataset.examples.map(
          (ex, i) => `${ex.index}\t${task.isRegression ? predictions[i].toFixed(3) : task.labels[predictions[i]]}`,
        ),
      ];
      writeFileAtomic(predFile, lines.join('\n') + '\n');
      writeLine(io.stderr, `wrote ${dataset.examples.length} predictions to ${predFile}`);
    }
    const result: EvalResult = {
      backend: backend.kind,
      model: checkpoint.dir,
      task: task.name,
      split,
      file: dataset.file,
      examples: dataset.examples.length,
      metrics,
      notes,
    };
    if (flags.bool('json')) {
      await writeJson(io, result);
    } else {
      writeLine(io.stdout, `${task.name} ${split} (${result.examples} examples, backend ${backend.kind})`);
      for (const [k, v] of Object.entries(metrics)) writeLine(io.stdout, `  ${k.padEnd(9)} ${v.toFixed(4)}`);
    }
    return 0;
  },
};

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}
