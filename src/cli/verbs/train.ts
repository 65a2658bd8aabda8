import { Verb, BACKEND_FLAG } from '../verb';
import { CliIO, writeLine } from '../io';
import { parseBackendFlag } from '../model-session';
import { exitCodeFor, installStopHandlers } from '../run-signals';
import { resumeRun, RunOutcome, startRun } from '../../train/run';
import { isUserError } from '../../util/errors';
import { Flags } from '../args';
import { reportInternalError } from '../crash-report';
import { VERSION } from '../version';

const EVENTS_FLAG = {
  name: 'events',
  type: 'boolean' as const,
  description: 'write JSON-line events on stdout (default: when stdout is not a terminal)',
};

const TEACHER_CACHE_FLAG = {
  name: 'teacher-cache',
  type: 'boolean' as const,
  description: "keep the teacher's outputs after the first epoch (sets teacherCache.enabled in the run's config)",
};
const TEACHER_ONLY_FLAG = {
  name: 'teacher-only',
  type: 'boolean' as const,
  description: 'train the teacher (teacher.train) and stop, without a student; `resume` keeps to it',
};

async function runWith(
  verbName: string,
  flags: Flags,
  io: CliIO,
  go: (o: Parameters<typeof startRun>[1]) => Promise<RunOutcome>,
): Promise<number> {
  const backend = flags.string('backend') ? parseBackendFlag(flags.string('backend')) : undefined;
  const eventsOnStdout = flags.bool('events') || (!flags.has('events') && !(io.stdout as NodeJS.WriteStream).isTTY);
  const stop = installStopHandlers(io.stderr);
  try {
    const outcome = await go({
      stdout: eventsOnStdout ? io.stdout : undefined,
      stderr: io.stderr,
      interactive: io.interactive,
      stop: stop.signal,
      backend,
      ...(flags.bool('teacher-only') ? { teacherOnly: true } : {}),
      ...(flags.bool('teacher-cache') ? { teacherCache: true } : {}),
    });
    if (outcome.status === 'failed' && outcome.error && !isUserError(outcome.error)) {
      // A bug, not the user's input: one line, the stack in the run folder beside events.jsonl.
      writeLine(
        io.stderr,
        reportInternalError(verbName, outcome.error, {
          version: VERSION,
          argv: process.argv.slice(2),
          dir: outcome.runDir,
        }),
      );
    }
    if (outcome.status !== 'finished') writeLine(io.stderr, `run folder: ${outcome.runDir}`);
    return exitCodeFor(outcome.status, stop.signal, isUserError(outcome.error));
  } finally {
    stop.dispose();
  }
}

export const trainVerb: Verb = {
  name: 'train',
  summary: 'validate a *.distill.json config and run it (teacher, student, stages) in a new run folder',
  positionals: [{ name: 'config', description: 'the run config (*.distill.json)' }],
  flags: [BACKEND_FLAG, EVENTS_FLAG, TEACHER_ONLY_FLAG, TEACHER_CACHE_FLAG],
  details: [
    'With --teacher-only the run stops once its teacher is trained (and READY); point other configs at it with teacher.checkpoint.',
    'Events go to runs/<id>/events.jsonl (and stdout with --events); progress goes to stderr.',
    'Ctrl-C (or SIGTERM) writes a checkpoint and stops; continue with `distillery resume runs/<id>`.',
  ].join('\n'),
  run: (flags, io) => runWith('train', flags, io, (o) => startRun(flags.positionals[0], o)),
};

export const resumeVerb: Verb = {
  name: 'resume',
  summary: 'continue a stopped or killed run from its newest checkpoint',
  positionals: [{ name: 'runDir', description: 'a run folder (runs/<id>)' }],
  flags: [BACKEND_FLAG, EVENTS_FLAG],
  details: 'The remaining steps replay exactly as an uninterrupted run with the same seed would.',
  run: (flags, io) => runWith('resume', flags, io, (o) => resumeRun(flags.positionals[0], o)),
};
