import * as fs from 'node:fs';
import { Verb, JSON_FLAG } from '../verb';
import { writeJson, writeLine } from '../io';
import { formatProblem, validateConfig } from '../../validate/validate';
import { UserError } from '../../util/errors';

export const validateVerb: Verb = {
  name: 'validate',
  summary: 'check a *.distill.json config (schema, layers, mapping, widths, files) without loading anything',
  positionals: [{ name: 'config', description: 'the run config' }],
  flags: [
    JSON_FLAG,
    { name: 'no-files', type: 'boolean', description: 'skip checks that read the teacher folder and data files' },
  ],
  async run(flags, io) {
    const file = flags.positionals[0];
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new UserError(`cannot read the config (${(e as NodeJS.ErrnoException).code ?? e})`, { where: file });
    }
    const { config, problems } = validateConfig(text, file, { checkFiles: !flags.bool('no-files') });
    const errors = problems.filter((p) => p.severity === 'error').length;
    if (flags.bool('json')) {
      await writeJson(io, { file, valid: errors === 0, problems, resolved: config });
    } else {
      for (const p of problems) writeLine(io.stdout, `${formatProblem(file, p)}`);
      writeLine(
        io.stdout,
        errors === 0
          ? `${file}: valid${problems.length ? ` (${problems.length} warning(s))` : ''}`
          : `${file}: ${errors} error(s)`,
      );
    }
    // 2, as for every other bad input the CLI reports (a UserError), so scripts can tell it from a crash (1).
    return errors === 0 ? 0 : 2;
  },
};
