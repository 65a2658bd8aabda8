import * as path from 'node:path';
import { Verb, JSON_FLAG } from '../verb';
import { writeJson, writeLine } from '../io';
import { buildReport } from '../../sweep/report';

export const reportVerb: Verb = {
  name: 'report',
  summary:
    "aggregate a sweep's run folders into a Markdown report: mean ± std tables, differences from soft labels paired by seed, attention-KL per layer, SVG plots, commands",
  positionals: [{ name: 'sweepDir', description: 'the folder `distillery sweep` wrote (its sweep.json and runs/)' }],
  flags: [
    {
      name: 'out',
      type: 'string',
      value: 'FILE',
      description:
        'the report (default <sweepDir>/report.md); the SVG plots and the run summaries (<report>-runs.json) are written beside it',
    },
    {
      name: 'sample-cell',
      type: 'string',
      value: 'ID',
      description:
        'the cell whose teacher vs student attention maps are drawn (default: the best internal-distillation cell)',
    },
    {
      name: 'baseline',
      type: 'string',
      value: 'ALGORITHM',
      description: 'the algorithm the others are compared with, seed by seed (default: soft, when the grid has it)',
    },
    JSON_FLAG,
  ],
  details: 'Works on sweeps run on a cluster too: the run folders on the shared storage are the truth.',
  async run(flags, io) {
    const dir = flags.positionals[0];
    const out = flags.string('out');
    const sampleCell = flags.string('sample-cell');
    const baseline = flags.string('baseline');
    const command =
      `distillery report ${path.resolve(dir)}${out ? ` --out ${path.resolve(out)}` : ''}` +
      `${sampleCell ? ` --sample-cell ${sampleCell}` : ''}${baseline ? ` --baseline ${baseline}` : ''}`;
    const r = buildReport(dir, { out, sampleCell, command, baseline });
    const count = (s: string) => r.cells.filter((c) => c.status === s).length;
    if (flags.bool('json')) {
      await writeJson(io, {
        file: r.file,
        svg: r.svgFiles,
        runs: r.runsFile,
        sampleCell: r.sampleCell,
        results: r.results,
        paired: r.paired,
        cells: r.cells.map((c) => ({
          id: c.id,
          kind: c.kind,
          status: c.status,
          runDir: c.runDir,
          best: c.summary?.best,
          reason: c.reason,
        })),
      });
    } else {
      writeLine(
        io.stdout,
        `wrote ${path.relative(process.cwd(), r.file) || r.file}, ${r.svgFiles.length} plot(s) and the run summaries (${path.basename(r.runsFile)}): ${count('finished')}/${r.cells.length} cells finished` +
          `${count('failed') ? `, ${count('failed')} failed` : ''}${count('missing') ? `, ${count('missing')} missing` : ''}${count('unfinished') + count('stopped') ? `, ${count('unfinished') + count('stopped')} unfinished` : ''}`,
      );
    }
    return 0;
  },
};
