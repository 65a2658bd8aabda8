/**
 * `sweep --emit slurm|k8s`: what the job files contain (array size, concurrency, commands, the
 * index mapping), and what run-cell.sh does for a task index (train, skip, resume, wait for the
 * teacher), run here with `DISTILLERY=echo …` so nothing trains.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { generateDemoTask } from '../../src/data/demo-task';
import { planSweep, SweepPlan } from '../../src/sweep/plan';
import { commonAncestor, emitCluster, IMAGE_PLACEHOLDER, k8sName } from '../../src/sweep/emit';
import { manifestFor, readManifest, writeCellFiles, writeManifest } from '../../src/sweep/sweep-folder';
import { RunFolder } from '../../src/train/run-folder';
import { main } from '../../src/cli/main';

const made: string[] = [];
after(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

function project(grid: Record<string, unknown> = { algorithms: ['soft', 'pid', 'sid'], seeds: [1, 2] }): {
  dir: string;
  file: string;
} {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'distillery-emit-'));
  made.push(dir);
  generateDemoTask(path.join(dir, 'data'), { trainSize: 20, devSize: 10, seed: 1 });
  const base = {
    task: {
      name: 'custom',
      maxSeqLen: 24,
      custom: { train: 'data/train.tsv', dev: 'data/dev.tsv', textA: 'sentence', label: 'label' },
    },
    teacher: {
      train: {
        from: 'scratch',
        architecture: { layers: 2, hiddenSize: 32, heads: 2, intermediateSize: 64 },
        vocab: 'data/vocab.txt',
        epochs: 1,
      },
    },
    student: { layers: 1 },
    algorithm: 'soft',
  };
  const file = path.join(dir, 'em.sweep.json');
  fs.writeFileSync(file, JSON.stringify({ base, grid }));
  return { dir, file };
}

function prepared(grid?: Record<string, unknown>): SweepPlan {
  const { file } = project(grid);
  const plan = planSweep(file);
  writeCellFiles(plan);
  writeManifest(plan.dir, manifestFor(plan, undefined));
  return plan;
}

function io() {
  const out = new PassThrough();
  let stdout = '';
  out.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  return {
    io: { stdout: out, stderr: new PassThrough(), stdin: new PassThrough(), interactive: false },
    stdout: () => stdout,
  };
}

test('slurm: a job array over the cells, K at once, each task running run-cell.sh on its index; teachers first', () => {
  const plan = prepared();
  const r = emitCluster(plan, {
    target: 'slurm',
    concurrency: 2,
    localCli: '/opt/distillery/bin/distillery.js',
    partition: 'gpu',
    gpus: 1,
    mem: '16',
    time: '01:30:00',
    cpus: 4,
  });
  const cells = fs.readFileSync(path.join(plan.dir, 'slurm', 'cells.sbatch'), 'utf8');
  assert.match(cells, /^#!\/bin\/bash\n/);
  assert.match(cells, /^#SBATCH --array=0-5%2$/m, '6 cells, at most 2 at once');
  assert.match(
    cells,
    new RegExp(`^#SBATCH --output=${plan.dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/logs/slurm-%A_%a\\.out$`, 'm'),
  );
  assert.match(cells, /^#SBATCH --partition=gpu$/m);
  assert.match(cells, /^#SBATCH --gres=gpu:1$/m);
  assert.match(cells, /^#SBATCH --mem=16G$/m);
  assert.match(cells, /^#SBATCH --time=01:30:00$/m);
  assert.match(cells, /^#SBATCH --cpus-per-task=4$/m);
  // A requeued task appends to its log instead of truncating the first attempt's.
  assert.match(cells, /^#SBATCH --requeue$/m);
  assert.match(cells, /^#SBATCH --open-mode=append$/m);
  assert.match(cells, /^export DISTILLERY=\$\{DISTILLERY:-'node \/opt\/distillery\/bin\/distillery\.js'\}$/m);
  assert.match(cells, /^exec sh \S+\/run-cell\.sh cells\.tsv "\$SLURM_ARRAY_TASK_ID"$/m);
  // #SBATCH lines must come before the first command, or Slurm ignores them.
  const firstCommand = cells.split('\n').findIndex((l) => l.trim() && !l.startsWith('#'));
  const lastDirective = cells
    .split('\n')
    .map((l, i) => (l.startsWith('#SBATCH') ? i : -1))
    .reduce((a, b) => Math.max(a, b));
  assert.ok(lastDirective < firstCommand);

  const teachers = fs.readFileSync(path.join(plan.dir, 'slurm', 'teachers.sbatch'), 'utf8');
  assert.match(teachers, /^#SBATCH --array=0-0%1$/m);
  assert.match(teachers, /run-cell\.sh teachers\.tsv "\$SLURM_ARRAY_TASK_ID"/);
  const submit = fs.readFileSync(path.join(plan.dir, 'slurm', 'submit.sh'), 'utf8');
  assert.match(submit, /TEACHERS=\$\(sbatch --parsable teachers\.sbatch\)/);
  assert.match(submit, /sbatch --parsable --dependency=afterok:"\$TEACHERS" cells\.sbatch/);
  assert.deepEqual(r.files.map((f) => path.relative(plan.dir, f)).sort(), [
    'run-cell.sh',
    'slurm/cells.sbatch',
    'slurm/submit.sh',
    'slurm/teachers.sbatch',
  ]);
  for (const f of r.files) assert.equal(spawnSync('sh', ['-n', f]).status, 0, `${f} parses as shell`);
});

test('the index files map task i to cell i and its config', () => {
  const plan = prepared();
  const lines = fs.readFileSync(path.join(plan.dir, 'cells.tsv'), 'utf8').trimEnd().split('\n');
  assert.equal(lines.length, plan.cells.length);
  lines.forEach((line, i) => {
    const [index, id, config, teacher] = line.split('\t');
    assert.equal(Number(index), i);
    assert.equal(id, plan.cells[i].id);
    assert.equal(path.join(plan.dir, config), plan.cells[i].configFile);
    assert.equal(teacher, 'teachers/teacher');
  });
  assert.equal(
    fs.readFileSync(path.join(plan.dir, 'teachers.tsv'), 'utf8'),
    '0\tteacher\tcells/teacher.distill.json\t-\n',
  );
  assert.deepEqual(
    readManifest(plan.dir)!.cells.map((c) => c.index),
    [0, 1, 2, 3, 4, 5],
  );
});

test('k8s: indexed Jobs with completions N and parallelism K, the cell chosen by JOB_COMPLETION_INDEX, a shared volume', () => {
  const plan = prepared();
  const r = emitCluster(plan, {
    target: 'k8s',
    concurrency: 3,
    pvc: 'team-nfs',
    mount: '/mnt/work',
    cpus: 2,
    mem: '6G',
  });
  const yaml = fs.readFileSync(path.join(plan.dir, 'k8s', 'sweep-jobs.yaml'), 'utf8');
  const docs = yaml.split(/^---$/m).slice(1);
  assert.equal(docs.length, 2, 'a teacher Job and a cells Job');
  const [teacherJob, cellsJob] = docs;
  assert.match(teacherJob, /^ {2}name: em-teacher$/m);
  assert.match(teacherJob, /^ {2}completions: 1$/m);
  assert.match(teacherJob, /run-cell\.sh teachers\.tsv/);
  assert.match(cellsJob, /^kind: Job$/m);
  assert.match(cellsJob, /^ {2}name: em-cells$/m);
  assert.match(cellsJob, /^ {2}completionMode: Indexed$/m);
  assert.match(cellsJob, /^ {2}completions: 6$/m);
  assert.match(cellsJob, /^ {2}parallelism: 3$/m);
  assert.match(cellsJob, /command: \["sh", "-c", "exec sh run-cell\.sh cells\.tsv \\"\$JOB_COMPLETION_INDEX\\""\]/);
  assert.match(cellsJob, /claimName: "team-nfs"/);
  assert.match(cellsJob, /mountPath: "\/mnt\/work"/);
  // The workspace is the smallest folder holding the data and the sweep: the project folder.
  const workspace = path.dirname(path.dirname(plan.dir));
  assert.equal(commonAncestor([plan.dir, path.join(workspace, 'data', 'train.tsv')]), workspace);
  assert.match(
    cellsJob,
    new RegExp(`workingDir: "/mnt/work/${path.relative(workspace, plan.dir).replace(/\./g, '\\.')}"`),
  );
  assert.match(cellsJob, /memory: "6Gi"/);
  assert.match(cellsJob, new RegExp(`image: "${IMAGE_PLACEHOLDER.replace(/\./g, '\\.')}"`));
  assert.match(yaml, /# .*placeholder/);
  assert.ok(r.notes.some((n) => /--image/.test(n)));
  assert.match(cellsJob, /- name: DISTILLERY\n\s+value: "node \/app\/bin\/distillery\.js"/);
  assert.equal(k8sName('SST-2 repro.v1_x'), 'sst-2-repro-v1-x');
});

test('--emit through the verb writes cells, manifest and job files, and runs nothing', async () => {
  const { dir, file } = project({ seeds: [1, 2, 3] });
  const cli = io();
  const code = await main(
    [
      'sweep',
      file,
      '--out',
      path.join(dir, 'out'),
      '--emit',
      'k8s',
      '--image',
      'ghcr.io/me/distillery:1',
      '--concurrency',
      '2',
    ],
    cli.io,
  );
  assert.equal(code, 0);
  assert.match(cli.stdout(), /3 cell\(s\) \+ 1 shared teacher\(s\) for Kubernetes/);
  const yaml = fs.readFileSync(path.join(dir, 'out', 'k8s', 'sweep-jobs.yaml'), 'utf8');
  assert.match(yaml, /image: "ghcr\.io\/me\/distillery:1"/);
  assert.equal(fs.readdirSync(path.join(dir, 'out', 'cells')).length, 4);
  assert.equal(fs.existsSync(path.join(dir, 'out', 'runs')), false);
  assert.equal(readManifest(path.join(dir, 'out'))!.invocations.length, 1);
  const bad = io();
  assert.equal(await main(['sweep', file, '--emit', 'pbs'], bad.io), 2);
});

function runCell(
  plan: SweepPlan,
  index: string,
  i: number,
  env: Record<string, string> = {},
): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('sh', [path.join(plan.dir, 'run-cell.sh'), index, String(i)], {
    env: { ...process.env, DISTILLERY: 'echo CLI', ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function fakeRun(plan: SweepPlan, cellId: string, status: 'finished' | 'running' | 'failed', stamp: string): string {
  const dir = path.join(plan.dir, 'runs', `${cellId}-${stamp}`);
  fs.mkdirSync(dir, { recursive: true });
  // As a cluster node wrote it: its own absolute path to the cell config.
  new RunFolder(dir).writeInfo({ status, configFile: `/mnt/work/elsewhere/cells/${cellId}.distill.json`, pid: 999999 });
  return dir;
}

test('run-cell.sh trains a new cell, skips a finished one, resumes an interrupted one, leaves a failed one, and waits for its teacher', () => {
  const plan = prepared({
    algorithms: ['soft', 'pid', { name: 'soft x', algorithm: 'soft', set: { 'losses.softLabel.temperature': 2 } }],
  });
  emitCluster(plan, { target: 'slurm', concurrency: 2, backend: 'wasm' });
  const [soft, pid, softX] = plan.cells;
  assert.deepEqual([soft.id, softX.id], ['soft', 'soft-x']);

  // The teacher task: a new cell is trained from its config, teacher only (no throwaway student).
  const t = runCell(plan, 'teachers.tsv', 0);
  assert.equal(t.code, 0, t.stderr);
  assert.equal(t.stdout.trim(), `CLI train ${plan.teachers[0].configFile} --no-events --teacher-only --backend wasm`);

  // A teacher run that failed: the cells give up instead of waiting forever.
  fakeRun(plan, 'teacher', 'failed', '20260101-000000');
  const blocked = runCell(plan, 'cells.tsv', 0);
  assert.equal(blocked.code, 3);
  assert.match(blocked.stderr, /its teacher failed/);

  fs.mkdirSync(path.join(plan.dir, 'teachers', 'teacher'), { recursive: true });
  fs.writeFileSync(path.join(plan.dir, 'teachers', 'teacher', 'READY'), 'now\n');
  const fresh = runCell(plan, 'cells.tsv', 1);
  assert.equal(fresh.stdout.trim(), `CLI train ${pid.configFile} --no-events --backend wasm`);

  // A cell id that is a prefix of another's does not match the other's runs.
  fakeRun(plan, softX.id, 'finished', '20260101-000001');
  assert.equal(runCell(plan, 'cells.tsv', 0).stdout.trim(), `CLI train ${soft.configFile} --no-events --backend wasm`);
  // Finished: skipped.
  fakeRun(plan, soft.id, 'finished', '20260101-000001');
  const skipped = runCell(plan, 'cells.tsv', 0);
  assert.equal(skipped.code, 0);
  assert.equal(skipped.stdout, '');
  assert.match(skipped.stderr, /already finished/);

  // Interrupted (still marked running, from another node): marked stopped, then resumed.
  const interrupted = fakeRun(plan, pid.id, 'running', '20260101-000002');
  const resumed = runCell(plan, 'cells.tsv', 1);
  assert.equal(resumed.stdout.trim(), `CLI resume ${interrupted} --no-events --backend wasm`);
  assert.equal(JSON.parse(fs.readFileSync(path.join(interrupted, 'run.json'), 'utf8')).status, 'stopped');

  // Failed: left alone (the task fails, saying why and how to retry), unless DISTILLERY_RETRY_FAILED=1.
  const failedRun = fakeRun(plan, softX.id, 'failed', '20260101-000003');
  const leftAlone = runCell(plan, 'cells.tsv', 2);
  assert.equal(leftAlone.code, 1);
  assert.equal(leftAlone.stdout, '');
  assert.match(leftAlone.stderr, /cell soft-x: its run failed .*DISTILLERY_RETRY_FAILED=1/);
  const retried = runCell(plan, 'cells.tsv', 2, { DISTILLERY_RETRY_FAILED: '1' });
  assert.equal(retried.stdout.trim(), `CLI resume ${failedRun} --no-events --backend wasm`);

  const missing = runCell(plan, 'cells.tsv', 7);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no line for index 7/);
});
