/**
 * What `distillery advise-mapping --json` prints (the contract between the CLI and the extension),
 * and its text form: the matrices as heatmaps, the proposal and the comparison. No TF.js and no
 * Node modules, so the extension host can render an advice it read from the CLI.
 */
import type { CostMatrix, MappingComparison } from './mapping-advisor';

export interface ModelSummary {
  layers: number;
  heads: number;
  hiddenSize: number;
}

export interface MappingAdvice {
  config: string;
  teacherDir: string;
  teacher: ModelSummary;
  student: ModelSummary & { init: string };
  /** Dev examples measured. */
  examples: number;
  /** [student − 1][teacher − 1]: mean attention KL. */
  attentionKl: CostMatrix;
  /** [student − 1][teacher − 1]: mean 1 − cos of the [CLS] vectors; null when the widths differ. */
  clsCosine: CostMatrix | null;
  /** The combined cost the mapping minimises (see combineCosts). */
  cost: CostMatrix;
  /** How `cost` was made, in words. */
  costRule: string;
  weights: { attentionKl: number; clsCosine: number };
  headAverage: boolean;
  proposed: Array<[number, number]>;
  current: Array<[number, number]>;
  comparison: MappingComparison;
  /** `"mapping": [[1, 2], …]`. */
  snippet: string;
  notes: string[];
  backend: string;
}

/** Darker = lower cost (a closer pair), on each matrix's own range. */
const SHADES = ['█', '▓', '▒', '░', '·'];

function fmt(x: number): string {
  if (x === 0) return '0';
  return Math.abs(x) < 1e-3 ? x.toExponential(1) : x.toFixed(3);
}

/** A text heatmap: rows are student layers, columns teacher layers; [ ] the proposal, * the current mapping. */
export function heatmap(
  title: string,
  m: CostMatrix,
  proposed: ReadonlyArray<[number, number]>,
  current: ReadonlyArray<[number, number]>,
): string {
  const flat = m.flat();
  const lo = Math.min(...flat);
  const span = Math.max(...flat) - lo;
  const isPair = (list: ReadonlyArray<[number, number]>, s: number, t: number) =>
    list.some(([a, b]) => a === s && b === t);
  const cells = m.map((row, i) =>
    row.map((x, j) => {
      const shade = SHADES[span > 0 ? Math.min(SHADES.length - 1, Math.floor(((x - lo) / span) * SHADES.length)) : 0];
      const body = `${shade} ${fmt(x)}`;
      const boxed = isPair(proposed, i + 1, j + 1) ? `[${body}]` : ` ${body} `;
      return boxed + (isPair(current, i + 1, j + 1) ? '*' : ' ');
    }),
  );
  const width = Math.max(...cells.flat().map((c) => c.length));
  const head = `     ${m[0].map((_, j) => `t${j + 1}`.padStart(Math.ceil(width / 2) + 1).padEnd(width)).join(' ')}`;
  return [
    title,
    head,
    ...cells.map((row, i) => `s${String(i + 1).padEnd(3)} ${row.map((c) => c.padEnd(width)).join(' ')}`),
  ].join('\n');
}

export function renderAdvice(a: MappingAdvice): string {
  const lines: string[] = [];
  lines.push(
    `teacher ${a.teacherDir}: ${a.teacher.layers} layers, ${a.teacher.heads} heads, width ${a.teacher.hiddenSize}`,
  );
  lines.push(
    `student: ${a.student.layers} layers, ${a.student.heads} heads, width ${a.student.hiddenSize}, init ${a.student.init}`,
  );
  lines.push(
    `measured on ${a.examples} dev examples (backend ${a.backend}); rows: student layers, columns: teacher layers;`,
  );
  lines.push(`darker = closer; [ ] = proposed pair, * = current pair`, '');
  lines.push(
    heatmap('attention KL, KL(A_T ‖ A_S) per head, padding masked:', a.attentionKl, a.proposed, a.current),
    '',
  );
  if (a.clsCosine) lines.push(heatmap('[CLS] cosine distance, 1 − cos:', a.clsCosine, a.proposed, a.current), '');
  lines.push(`cost = ${a.costRule}; the proposal is the strictly increasing mapping of least total cost`, '');
  lines.push(`proposed: ${a.snippet}   (total cost ${a.comparison.proposedCost.toFixed(3)})`);
  lines.push(
    `current:  "mapping": ${JSON.stringify(a.current).replace(/,/g, ', ')}   (total cost ${a.comparison.currentCost.toFixed(3)}${a.comparison.unmapped.length ? `; leaves student layer(s) ${a.comparison.unmapped.join(', ')} unmapped` : ''})`,
  );
  if (a.comparison.same) lines.push('the current mapping is already the proposal');
  else {
    const moved = a.comparison.changed
      .filter((c) => c.current !== null)
      .map((c) => `student ${c.student}: teacher ${c.current} → ${c.proposed}`);
    if (moved.length) lines.push(`changes: ${moved.join('; ')}`);
  }
  for (const n of a.notes) lines.push(`note: ${n}`);
  return lines.join('\n');
}
