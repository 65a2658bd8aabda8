import { Verb, JSON_FLAG, BACKEND_FLAG } from '../verb';
import { writeJson, writeLine } from '../io';
import { parseBackendFlag } from '../model-session';
import { adviseMapping, DEFAULT_ADVICE_SAMPLE, MappingAdvice } from '../../train/advise-mapping';
import type { CostMatrix } from '../../distill/mapping-advisor';

/** Darker = lower cost (a closer pair), on each matrix's own range. */
const SHADES = ['█', '▓', '▒', '░', '·'];

function fmt(x: number): string {
  if (x === 0) return '0';
  return Math.abs(x) < 1e-3 ? x.toExponential(1) : x.toFixed(3);
}

/** A text heatmap: rows are student layers, columns teacher layers; [ ] the proposal, * the current mapping. */
export function heatmap(title: string, m: CostMatrix, proposed: ReadonlyArray<[number, number]>, current: ReadonlyArray<[number, number]>): string {
  const flat = m.flat();
  const lo = Math.min(...flat);
  const span = Math.max(...flat) - lo;
  const isPair = (list: ReadonlyArray<[number, number]>, s: number, t: number) => list.some(([a, b]) => a === s && b === t);
  const cells = m.map((row, i) => row.map((x, j) => {
    const shade = SHADES[span > 0 ? Math.min(SHADES.length - 1, Math.floor(((x - lo) / span) * SHADES.length)) : 0];
    const body = `${shade} ${fmt(x)}`;
    const boxed = isPair(proposed, i + 1, j + 1) ? `[${body}]` : ` ${body} `;
    return boxed + (isPair(current, i + 1, j + 1) ? '*' : ' ');
  }));
  const width = Math.max(...cells.flat().map((c) => c.length));
  const head = `     ${m[0].map((_, j) => `t${j + 1}`.padStart(Math.ceil(width / 2) + 1).padEnd(width)).join(' ')}`;
  return [title, head, ...cells.map((row, i) => `s${String(i + 1).padEnd(3)} ${row.map((c) => c.padEnd(width)).join(' ')}`)].join('\n');
}

export function renderAdvice(a: MappingAdvice): string {
  const lines: string[] = [];
  lines.push(`teacher ${a.teacherDir}: ${a.teacher.layers} layers, ${a.teacher.heads} heads, width ${a.teacher.hiddenSize}`);
  lines.push(`student: ${a.student.layers} layers, ${a.student.heads} heads, width ${a.student.hiddenSize}, init ${a.student.init}`);
  lines.push(`measured on ${a.examples} dev examples (backend ${a.backend}); rows: student layers, columns: teacher layers;`);
  lines.push(`darker = closer; [ ] = proposed pair, * = current pair`, '');
  lines.push(heatmap('attention KL, KL(A_T ‖ A_S) per head, padding masked:', a.attentionKl, a.proposed, a.current), '');
  if (a.clsCosine) lines.push(heatmap('[CLS] cosine distance, 1 − cos:', a.clsCosine, a.proposed, a.current), '');
  lines.push(`cost = ${a.costRule}; the proposal is the strictly increasing mapping of least total cost`, '');
  lines.push(`proposed: ${a.snippet}   (total cost ${a.comparison.proposedCost.toFixed(3)})`);
  lines.push(`current:  "mapping": ${JSON.stringify(a.current).replace(/,/g, ', ')}   (total cost ${a.comparison.currentCost.toFixed(3)}${a.comparison.unmapped.length ? `; leaves student layer(s) ${a.comparison.unmapped.join(', ')} unmapped` : ''})`);
  if (a.comparison.same) lines.push('the current mapping is already the proposal');
  else {
    const moved = a.comparison.changed.filter((c) => c.current !== null).map((c) => `student ${c.student}: teacher ${c.current} → ${c.proposed}`);
    if (moved.length) lines.push(`changes: ${moved.join('; ')}`);
  }
  for (const n of a.notes) lines.push(`note: ${n}`);
  return lines.join('\n');
}

export const adviseMappingVerb: Verb = {
  name: 'advise-mapping',
  summary: 'measure every student-teacher layer pair on dev examples and propose a layer mapping',
  positionals: [{ name: 'config', description: 'the run config (*.distill.json) with a ready teacher' }],
  flags: [
    { name: 'sample', type: 'number', value: 'N', description: `dev examples to measure on (default ${DEFAULT_ADVICE_SAMPLE})` },
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
    const advice = await adviseMapping(flags.positionals[0], { sample, backend: flags.has('backend') ? parseBackendFlag(flags.string('backend')) : undefined });
    if (flags.bool('json')) await writeJson(io, advice);
    else writeLine(io.stdout, renderAdvice(advice));
    return 0;
  },
};
