import { Verb, JSON_FLAG, BACKEND_FLAG } from '../verb';
import { writeJson, writeLine } from '../io';
import { parseBackendFlag } from '../model-session';
import { adviseMapping, DEFAULT_ADVICE_SAMPLE } from '../../train/advise-mapping';
import { renderAdvice } from '../../distill/mapping-report';

export const adviseMappingVerb: Verb = {
  name: 'advise-mapping',
  summary: 'measure every student-teacher layer pair on dev examples and propose a layer mapping',
  positionals: [{ name: 'config', description: 'the run config (*.distill.json) with a ready teacher' }],
  flags: [
    {
      name: 'sample',
      type: 'number',
      value: 'N',
      description: `dev examples to measure on (default ${DEFAULT_ADVICE_SAMPLE})`,
    },
    JSON_FLAG,
    BACKEND_FLAG,
  ],
  details: [
    'Loads the teacher and the student as `distillery train` would start them, runs both on the first N dev',
    'examples, and computes for every (student layer, teacher layer) pair the mean attention KL and [CLS] cosine',
    'distance. The proposal maps student layers 1..L_S to strictly increasing teacher layers at least total cost.',
  ].join('\n'),
  async run(flags, io) {
    const sample = flags.integer('sample', 1);
    const advice = await adviseMapping(flags.positionals[0], {
      sample,
      backend: flags.has('backend') ? parseBackendFlag(flags.string('backend')) : undefined,
    });
    if (flags.bool('json')) await writeJson(io, advice);
    else writeLine(io.stdout, renderAdvice(advice));
    return 0;
  },
};
