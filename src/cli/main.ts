/**
 * `distillery <verb> …`: the command-line face of everything the extension does. Verbs print
 * machine-readable output on stdout (JSON with --json) and human progress on stderr.
 */
import { closest, Flags, parseArgs } from './args';
import { CliIO, processIO, writeLine } from './io';
import { Verb } from './verb';
import { isUserError } from '../util/errors';
import { reportInternalError } from './crash-report';
import { VERSION } from './version';
import { inspectVerb } from './verbs/inspect';
import { evalVerb } from './verbs/eval';
import { tokenizeVerb } from './verbs/tokenize';
import { trainVerb, resumeVerb } from './verbs/train';
import { exportVerb } from './verbs/export';
import { validateVerb } from './verbs/validate';
import { demoVerb } from './verbs/demo';
import { sweepVerb } from './verbs/sweep';
import { reportVerb } from './verbs/report';
import { benchVerb } from './verbs/bench';
import { exportLogsVerb } from './verbs/export-logs';
import { adviseMappingVerb } from './verbs/advise-mapping';

export { VERSION };
/** For bin/distillery.js, for an error that escapes main itself. */
export { reportInternalError };

export const VERBS: Verb[] = [
  demoVerb,
  trainVerb,
  resumeVerb,
  exportVerb,
  validateVerb,
  evalVerb,
  inspectVerb,
  tokenizeVerb,
  sweepVerb,
  reportVerb,
  benchVerb,
  exportLogsVerb,
  adviseMappingVerb,
];

function usage(): string {
  const width = Math.max(...VERBS.map((v) => v.name.length));
  return [
    'Distillery: knowledge distillation from internal representations (BERT, TF.js).',
    '',
    'usage: distillery <verb> [options]',
    '',
    ...VERBS.map((v) => `  ${v.name.padEnd(width)}  ${v.summary}`),
    '',
    "Run `distillery <verb> --help` for a verb's options.",
  ].join('\n');
}

export function verbHelp(v: Verb): string {
  const pos = v.positionals.map((p) => (p.optional ? `[${p.name}]` : `<${p.name}>`)).join(' ');
  const lines = [`usage: distillery ${v.name} ${pos} [options]`, '', v.summary, ''];
  for (const p of v.positionals) lines.push(`  ${p.name.padEnd(22)} ${p.description}`);
  if (v.positionals.length) lines.push('');
  for (const f of v.flags) {
    const left = `--${f.name}${f.type === 'boolean' ? '' : ` ${f.value ?? 'VALUE'}`}`;
    lines.push(`  ${left.padEnd(22)} ${f.description}`);
  }
  if (v.details) lines.push('', v.details);
  return lines.join('\n');
}

export async function main(argv: string[], io: CliIO = processIO()): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    writeLine(name ? io.stdout : io.stderr, usage());
    return name ? 0 : 2;
  }
  if (name === '--version') {
    writeLine(io.stdout, VERSION);
    return 0;
  }
  const verb = VERBS.find((v) => v.name === name);
  if (!verb) {
    const guess = closest(
      name,
      VERBS.map((v) => v.name),
    );
    writeLine(
      io.stderr,
      `distillery: unknown verb "${name}"${guess ? ` (did you mean "${guess}"?)` : ''}\n\n${usage()}`,
    );
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    writeLine(io.stdout, verbHelp(verb));
    return 0;
  }
  try {
    // Lets the tests drive the internal-error path of the real CLI (test/integration/cli-errors.test.ts).
    if (process.env.DISTILLERY_TEST_INTERNAL_ERROR === verb.name)
      throw new Error('deliberate internal error (DISTILLERY_TEST_INTERNAL_ERROR)');
    const parsed = parseArgs(rest, verb.flags, verb.positionals, verb.name);
    return await verb.run(new Flags(parsed), io);
  } catch (e) {
    if (isUserError(e)) {
      writeLine(io.stderr, `distillery ${verb.name}: ${e.describe()}`);
      return 2;
    }
    // Never a stack trace on the terminal: one line, and the stack in a log file.
    writeLine(io.stderr, reportInternalError(verb.name, e, { version: VERSION, argv }));
    return 1;
  }
}
