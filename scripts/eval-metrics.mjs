#!/usr/bin/env node
// Every dev metric of each run's best evaluation (the run summaries that `distillery report` writes
// keep only the task's main metric, e.g. MRPC's F1; this keeps its accuracy too), read from the run
// folders' events.jsonl. Prints JSON: one entry per run folder, teacher-only runs included.
//   node scripts/eval-metrics.mjs repro/sweeps/pretrained-glue > docs/reproduction/pretrained-glue-eval-metrics.json
import * as fs from 'node:fs';
import * as path from 'node:path';

const sweepDir = process.argv[2];
if (!sweepDir) {
  console.error('usage: node scripts/eval-metrics.mjs SWEEP_DIR');
  process.exit(2);
}
const runsDir = path.join(sweepDir, 'runs');
if (!fs.existsSync(runsDir)) {
  console.error(`eval-metrics: ${runsDir} not found (give the folder \`distillery sweep\` wrote)`);
  process.exit(2);
}

const out = [];
for (const name of fs.readdirSync(runsDir).sort()) {
  const file = path.join(runsDir, name, 'events.jsonl');
  if (!fs.existsSync(file)) continue;
  let status = 'unknown';
  let best = null;
  let last = null;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    let e;
    try {
      e = JSON.parse(line);
    } catch {
      continue;
    } // a partial last line of a stopped run
    if (e.type === 'run-started') status = 'running';
    else if (e.type === 'eval') {
      last = { step: e.step, stage: e.stage, metrics: e.metrics };
      if (e.isBest) best = last;
    } else if (e.type === 'run-finished') status = 'finished';
    else if (e.type === 'run-failed') status = 'failed';
    else if (e.type === 'run-stopped') status = 'stopped';
  }
  out.push({ runId: name, status, best, last });
}
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
