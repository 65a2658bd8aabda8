import { Verb, JSON_FLAG } from '../verb';
import { writeJson, writeLine } from '../io';
import { exportLogs, parseLogFormat, CSV_FILE } from '../../logs/export-logs';

export const exportLogsVerb: Verb = {
  name: 'export-logs',
  summary: "write a run's losses, learning rate and metrics as TensorBoard event files or CSV",
  positionals: [{ name: 'runDir', description: 'a run folder (runs/<id>)' }],
  flags: [
    {
      name: 'format',
      type: 'string',
      value: 'FORMAT',
      description: 'tensorboard (an events.out.tfevents.* file) or csv (one tidy scalars.csv)',
    },
    { name: 'out', type: 'string', value: 'DIR', description: 'the folder to write into (default runs/<id>/logs)' },
    JSON_FLAG,
  ],
  details: [
    'Tags: train/loss, train/<loss>[/layer<k>], lr, train/grad-norm, <split>/<metric>, <split>/attention-kl/layer<k>, …',
    `CSV: ${CSV_FILE} has the columns step,wall_time,tag,value (wall_time in seconds since 1970, as in TensorBoard; one row per point: pivot on tag for one column per series).`,
    'Examples:',
    '  distillery export-logs runs/my-run --format tensorboard && tensorboard --logdir runs',
    '  distillery export-logs runs/my-run --format csv --out reports/my-run',
  ].join('\n'),
  async run(flags, io) {
    const format = parseLogFormat(flags.string('format'));
    const r = exportLogs(flags.positionals[0], { format, out: flags.string('out') });
    if (flags.bool('json')) await writeJson(io, r);
    else {
      writeLine(io.stdout, `wrote ${r.scalars} points of ${r.tags.length} series over ${r.steps} steps to ${r.file}`);
      if (r.skippedLines)
        writeLine(io.stderr, `skipped ${r.skippedLines} line(s) of events.jsonl that were not events`);
    }
    return 0;
  },
};
