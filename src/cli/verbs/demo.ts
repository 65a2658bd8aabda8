import * as path from 'node:path';
import { Verb, BACKEND_FLAG, JSON_FLAG } from '../verb';
import { writeJson, writeLine } from '../io';
import { parseBackendFlag } from '../model-session';
import { installStopHandlers, exitCodeFor } from '../run-signals';
import { runDemo } from '../../train/demo';

export const demoVerb: Verb = {
  name: 'demo',
  summary:
    'generate a task, train a teacher, distil students with soft, pid and sid from 100 sentences over 3 seeds, compare them (no downloads)',
  positionals: [],
  flags: [
    {
      name: 'dir',
      type: 'string',
      value: 'DIR',
      description: 'where the data, configs and runs go (default ./distillery-demo)',
    },
    { name: 'quick', type: 'boolean', description: 'less data, fewer epochs and one seed (about a minute)' },
    JSON_FLAG,
    BACKEND_FLAG,
  ],
  details:
    'Afterwards open the folder in VS Code to browse the runs, or run `distillery inspect <dir>/teacher --text "the red cat chased the old dog" --text-pair "a small cat sleeps"`.',
  async run(flags, io) {
    const stop = installStopHandlers(io.stderr);
    try {
      const backend = flags.string('backend') ? parseBackendFlag(flags.string('backend')) : undefined;
      const r = await runDemo({
        dir: flags.string('dir') ?? 'distillery-demo',
        quick: flags.bool('quick'),
        backend,
        stderr: io.stderr,
        interactive: io.interactive,
        stop: stop.signal,
      });
      if (flags.bool('json')) {
        await writeJson(io, { dir: r.dir, teacher: r.teacherDir, teacherRun: r.teacher, runs: r.runs });
      } else {
        writeLine(io.stdout, '');
        writeLine(
          io.stdout,
          `Distillery demo (backend ${r.runs[0]?.backend ?? '?'}) — runs in ${path.join(r.dir, 'runs')}`,
        );
        writeLine(io.stdout, '');
        writeLine(io.stdout, r.table);
      }
      const last = r.outcomes[r.outcomes.length - 1];
      return last ? exitCodeFor(last.status, stop.signal, false) : 1;
    } finally {
      stop.dispose();
    }
  },
};
