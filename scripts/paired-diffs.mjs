#!/usr/bin/env node
// Paired comparison of a sweep's algorithms with a baseline, from the run summaries that
// `distillery report` writes (<report>-runs.json): per algorithm, the dev metric (mean ± std over
// seeds, ×100), its difference from the baseline in the same seed and data (mean ± std, how many
// seeds it is ahead in), and the attention-KL to the teacher per mapped layer, also paired.
//   node scripts/paired-diffs.mjs docs/reproduction/pretrained-sst2-runs.json [--baseline soft]
// Prints Markdown. Cells other than the seed axis (task, fraction…) are compared separately.
import * as fs from 'node:fs';

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--'));
const bi = args.indexOf('--baseline');
const baseline = bi >= 0 ? args[bi + 1] : 'soft';
if (!file) {
  console.error('usage: node scripts/paired-diffs.mjs RUNS_JSON [--baseline ALGORITHM]');
  process.exit(2);
}
const cells = JSON.parse(fs.readFileSync(file, 'utf8'));
const students = cells.filter((c) => c.kind === 'student' && c.status === 'finished' && c.summary?.best);

const mean = (xs) => xs.reduce((s, x) => s + x, 0) / xs.length;
const std = (xs) => (xs.length < 2 ? 0 : Math.sqrt(xs.reduce((s, x) => s + (x - mean(xs)) ** 2, 0) / (xs.length - 1)));
// mean / (std / √n), n − 1 degrees of freedom; undefined with one pair or no variation.
const pairedT = (xs) => (xs.length < 2 || !(std(xs) > 0) ? undefined : mean(xs) / (std(xs) / Math.sqrt(xs.length)));
const fmt = (xs, digits = 1, sign = false) => {
  if (xs.length === 0) return '—';
  const m = mean(xs);
  const s = `${sign && m >= 0 ? '+' : ''}${m.toFixed(digits)}`;
  return xs.length > 1 ? `${s} ± ${std(xs).toFixed(digits)}` : s;
};

// Group key: every axis value but the seed and the algorithm.
const groupKey = (c) =>
  Object.entries(c.values)
    .filter(([k]) => k !== 'seeds' && k !== 'algorithms')
    .map(([, v]) => v)
    .join(', ') || 'all';
const groups = new Map();
for (const c of students) {
  const g = groupKey(c);
  if (!groups.has(g)) groups.set(g, []);
  groups.get(g).push(c);
}

for (const [g, list] of groups) {
  const metric = list[0].summary.best.metric;
  const algorithms = [...new Set(list.map((c) => c.values.algorithms))];
  const bySeed = (alg) => new Map(list.filter((c) => c.values.algorithms === alg).map((c) => [c.values.seeds, c]));
  const base = bySeed(baseline);
  const layers = list[0].summary.lastPerLayer.map((l) => `L${l.student}↔T${l.teacher}`);
  console.log(`### ${g}\n`);
  console.log(
    `Dev ${metric} ×100 (mean ± std over seeds), the difference from \`${baseline}\` in the same seed (points), and attention-KL to the teacher per mapped layer at the last evaluation (mean ± std; in brackets: the seeds where it is lower than \`${baseline}\`'s).\n`,
  );
  console.log(
    `| algorithm | seeds | ${metric} | − ${baseline} | ahead | paired t | ${layers.map((l) => `KL ${l}`).join(' | ')} |`,
  );
  console.log(`| --- | ---: | ---: | ---: | ---: | ---: | ${layers.map(() => '---:').join(' | ')} |`);
  for (const alg of algorithms) {
    const runs = bySeed(alg);
    const values = [...runs.values()].map((c) => c.summary.best.value * 100);
    const paired = [...runs.entries()].filter(([s]) => base.has(s));
    const diffs = paired.map(([s, c]) => (c.summary.best.value - base.get(s).summary.best.value) * 100);
    const ahead = alg === baseline ? '' : `${diffs.filter((d) => d > 0).length}/${diffs.length}`;
    const t = alg === baseline ? undefined : pairedT(diffs);
    const kl = layers.map((_, k) => {
      const xs = [...runs.values()].map((c) => c.summary.lastPerLayer[k]?.attentionKl).filter((x) => x !== undefined);
      const lower = paired.filter(
        ([s, c]) => c.summary.lastPerLayer[k]?.attentionKl < base.get(s).summary.lastPerLayer[k]?.attentionKl,
      ).length;
      return `${fmt(xs, 3)}${alg === baseline ? '' : ` (${lower}/${paired.length})`}`;
    });
    console.log(
      `| ${alg} | ${runs.size} | ${fmt(values)} | ${alg === baseline ? '' : fmt(diffs, 2, true)} | ${ahead} | ${t === undefined ? (alg === baseline ? '' : '—') : t.toFixed(2)} | ${kl.join(' | ')} |`,
    );
  }
  console.log('');
}
