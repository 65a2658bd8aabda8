/**
 * "How did runs that varied this field do?": for one config field, the workspace's finished runs
 * grouped by their value of it, with the mean ± standard deviation of each group's final main
 * metric. Shown when hovering the field in a *.distill.json, only when the runs tried at least
 * two values (one value says nothing about the field). Pure; no vscode.
 */
import type { ConfigScalar, FlatConfig } from './config-fields';

export interface RunOutcome {
  runId: string;
  /** Only finished runs count: a stopped or failed run's metric is not its result. */
  finished: boolean;
  /** The run's final main metric; undefined before its first evaluation. */
  metric: { name: string; value: number } | undefined;
  config: FlatConfig;
}

export interface OutcomeGroup {
  /** The field's value in these runs; undefined: their config does not set it. */
  value: ConfigScalar | undefined;
  runs: number;
  mean: number;
  /** Sample standard deviation (n − 1); 0 for a single run. */
  std: number;
}

export interface FieldOutcomes {
  field: string;
  metric: string;
  /** Runs counted, over every group. */
  runs: number;
  /** Sorted by value: numbers numerically, then text; unset last. */
  groups: OutcomeGroup[];
}

/** The leaf path a JSON location names: `mapping[0][1]` is the `mapping` setting (arrays are one value). */
export function fieldPath(location: ReadonlyArray<string | number>): string {
  const parts: string[] = [];
  for (const p of location) {
    if (typeof p === 'number') break;
    parts.push(p);
  }
  return parts.join('.');
}

function valueKey(v: ConfigScalar | undefined): string {
  return v === undefined ? 'missing' : `${typeof v}:${String(v)}`;
}

function order(a: ConfigScalar | undefined, b: ConfigScalar | undefined): number {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? 1 : -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number') return -1;
  if (typeof b === 'number') return 1;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

/**
 * The field's outcomes among finished runs with a metric, optionally only those whose config
 * matches `where` (e.g. the same task.name: an SST-2 accuracy says nothing about MRPC). Runs whose
 * metric is not the most common one among them are left out, so that no group mixes metrics.
 * Undefined when fewer than two distinct values were tried.
 */
export function fieldOutcomes(
  field: string,
  runs: readonly RunOutcome[],
  where: FlatConfig = {},
): FieldOutcomes | undefined {
  const eligible = runs.filter(
    (r) =>
      r.finished &&
      r.metric &&
      Number.isFinite(r.metric.value) &&
      Object.entries(where).every(([k, v]) => valueKey(r.config[k]) === valueKey(v)),
  );
  if (eligible.length < 2) return undefined;
  const names = new Map<string, number>();
  for (const r of eligible) names.set(r.metric!.name, (names.get(r.metric!.name) ?? 0) + 1);
  const metric = [...names.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0][0];
  const groups = new Map<string, { value: ConfigScalar | undefined; values: number[] }>();
  for (const r of eligible) {
    if (r.metric!.name !== metric) continue;
    const v = r.config[field];
    const k = valueKey(v);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { value: v, values: [] }));
    g.values.push(r.metric!.value);
  }
  if (groups.size < 2) return undefined;
  const out: OutcomeGroup[] = [...groups.values()].map((g) => {
    const n = g.values.length;
    const mean = g.values.reduce((a, x) => a + x, 0) / n;
    const std = n > 1 ? Math.sqrt(g.values.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1)) : 0;
    return { value: g.value, runs: n, mean, std };
  });
  out.sort((a, b) => order(a.value, b.value));
  return { field, metric, runs: out.reduce((a, g) => a + g.runs, 0), groups: out };
}

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e5 || a < 1e-3 ? v.toExponential(2) : String(Number(v.toPrecision(4)));
}

function valueText(v: ConfigScalar | undefined): string {
  return v === undefined ? '(unset)' : typeof v === 'string' ? `"${v}"` : String(v);
}

/** Markdown can hold any text in a table cell once pipes and backticks are escaped. */
function cell(s: string): string {
  return s.replace(/[\\|`*_[\]<>]/g, (c) => `\\${c}`);
}

/** The hover's Markdown: a table of value → mean ± std (runs), the config's own value marked. */
export function formatFieldOutcomes(o: FieldOutcomes, current?: ConfigScalar): string {
  const lines = [
    `**${cell(o.field)}** in ${o.runs} finished run${o.runs === 1 ? '' : 's'} of this workspace (final ${cell(o.metric)}):`,
    '',
    `| ${cell(o.field)} | ${cell(o.metric)} (mean ± std) | runs |`,
    '|---|---|---:|',
    ...o.groups.map((g) => {
      const mine = current !== undefined && valueKey(current) === valueKey(g.value);
      const value = cell(valueText(g.value));
      const stat = g.runs > 1 ? `${fmt(g.mean)} ± ${fmt(g.std)}` : `${fmt(g.mean)}`;
      return `| ${mine ? `**${value}** (this config)` : value} | ${stat} | ${g.runs} |`;
    }),
  ];
  return lines.join('\n');
}
