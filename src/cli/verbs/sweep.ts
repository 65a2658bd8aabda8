import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Verb, BACKEND_FLAG, JSON_FLAG } from '../verb';
import { Flags } from '../args';
import { CliIO, writeJson, writeLine } from '../io';
import { installStopHandlers } from '../run-signals';
import { planSweep, SweepPlan } from '../../sweep/plan';
import { cellActions, CellAction, runSweep } from '../../sweep/runner';
import { emitCluster, EmitTarget } from '../../sweep/emit';
import { invocation, manifestFor, readManifest, writeCellFiles, writeManifest } from '../../sweep/sweep-folder';
import { UserError } from '../../util/errors';

function shellWord(s: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Half the cores: each cell's TF.js backend keeps about one core busy, plus the data pipeline. */
export function defaultConcurrency(): number {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.floor(cores / 2));
}

/** The sweep file, or the one a sweep folder's manifest names (then --out defaults to that folder). */
function sweepSource(arg: string, out: string | undefined): { file: string; out?: string } {
  if (fs.existsSync(arg) && fs.statSync(arg).isDirectory()) {
    const m = readManifest(arg);
    if (!m)
      throw new UserError('this folder has no sweep.json manifest', {
        where: arg,
        fix: 'pass the sweep file (*.sweep.json), or a folder `distillery sweep` wrote',
      });
    return { file: m.sweepFile, out: out ?? arg };
  }
  return { file: arg, out };
}

/** The command line as typed, when this process is the CLI; else an equivalent one. */
function commandLine(plan: SweepPlan): string {
  const argv = process.argv.slice(2);
  if (argv[0] === 'sweep') return ['distillery', ...argv].map(shellWord).join(' ');
  return `distillery sweep ${shellWord(plan.sweep.file)} --out ${shellWord(plan.dir)}`;
}

function localCli(flags: Flags): string[] {
  const custom = flags.string('cli');
  if (custom) return custom.split(/\s+/).filter(Boolean);
  const script = process.argv[1];
  if (!script)
    throw new UserError('cannot tell how this CLI was started', {
      where: 'distillery sweep',
      fix: 'pass --cli "node /path/to/bin/distillery.js"',
    });
  return [process.execPath, path.resolve(script)];
}

function describeAction(a: CellAction | undefined, dir: string): string {
  if (!a || a.kind === 'train') return 'train';
  const run = path.relative(dir, a.run.runDir);
  if (a.kind === 'resume') return `resume ${run} (${a.run.status})`;
  return a.reason === 'finished'
    ? `skip: finished (${run})`
    : a.reason === 'running'
      ? `skip: running (pid ${a.run.info?.pid})`
      : `skip: failed (${run}; --retry-failed resumes it)`;
}

function positiveInt(flags: Flags, name: string): number | undefined {
  const v = flags.number(name);
  if (v !== undefined && (!Number.isInteger(v) || v < 1))
    throw new UserError(`--${name} must be a whole number ≥ 1`, { where: 'distillery sweep' });
  return v;
}

async function dryRun(plan: SweepPlan, flags: Flags, io: CliIO, concurrency: number): Promise<number> {
  const actions = cellActions(plan, flags.bool('retry-failed'));
  const all = [...plan.teachers, ...plan.cells];
  if (flags.bool('json')) {
    await writeJson(io, {
      dir: plan.dir,
      concurrency,
      warnings: plan.warnings,
      cells: all.map((c) => ({
        id: c.id,
        kind: c.kind,
        index: c.index,
        config: c.configFile,
        teacher: c.teacher,
        values: Object.fromEntries(Object.entries(c.values).map(([k, v]) => [k, v.label])),
        action: describeAction(actions.get(c.id), plan.dir),
      })),
    });
    return 0;
  }
  writeLine(
    io.stdout,
    `sweep ${plan.name}: ${plan.cells.length} cell(s)${plan.teachers.length ? ` + ${plan.teachers.length} shared teacher(s)` : ''} in ${plan.dir}, ${concurrency} at once (dry run: nothing written)`,
  );
  for (const w of plan.warnings) writeLine(io.stdout, `warning: ${w}`);
  const width = Math.max(...all.map((c) => c.id.length));
  for (const c of all) {
    const values = Object.values(c.values)
      .map((v) => v.label)
      .join(', ');
    writeLine(
      io.stdout,
      `  ${c.id.padEnd(width)}  ${describeAction(actions.get(c.id), plan.dir)}${values ? `  [${values}]` : ''}${c.kind === 'teacher' ? '  (trains the shared teacher)' : ''}`,
    );
  }
  return 0;
}

export const sweepVerb: Verb = {
  name: 'sweep',
  summary:
    'run a grid of configs (algorithms × seeds × data fractions × any field) locally, resumably, or emit Slurm/Kubernetes jobs',
  positionals: [{ name: 'sweep', description: 'the sweep file (*.sweep.json), or a sweep folder to continue' }],
  flags: [
    {
      name: 'out',
      type: 'string',
      value: 'DIR',
      description: 'the sweep folder (default: the file\'s "out", else sweeps/<name> beside it)',
    },
    {
      name: 'concurrency',
      type: 'number',
      value: 'N',
      description: 'cells (or cluster tasks) at once (default: half the CPU cores, at least 1)',
    },
    {
      name: 'dry-run',
      type: 'boolean',
      description: 'validate every cell and show what would run, skip or resume; write nothing',
    },
    {
      name: 'retry-failed',
      type: 'boolean',
      description: 'resume cells whose run failed (by default they are left as they are)',
    },
    {
      name: 'emit',
      type: 'string',
      value: 'slurm|k8s',
      description: 'write a Slurm job array or Kubernetes indexed Jobs for the cells instead of running them',
    },
    {
      name: 'cli',
      type: 'string',
      value: 'CMD',
      description:
        'how tasks start the CLI (default: this CLI here and on Slurm, "node /app/bin/distillery.js" on k8s)',
    },
    {
      name: 'image',
      type: 'string',
      value: 'IMAGE',
      description: 'k8s: the container image (Node 20 + this repository, built)',
    },
    {
      name: 'pvc',
      type: 'string',
      value: 'NAME',
      description: 'k8s: the PersistentVolumeClaim holding the workspace (default distillery-workspace)',
    },
    {
      name: 'mount',
      type: 'string',
      value: 'PATH',
      description: 'k8s: where the volume is mounted in the pods (default /workspace)',
    },
    {
      name: 'workspace',
      type: 'string',
      value: 'DIR',
      description: 'k8s: the local folder the volume holds (default: the smallest one holding the sweep and its data)',
    },
    { name: 'partition', type: 'string', value: 'NAME', description: 'Slurm partition' },
    { name: 'time', type: 'string', value: 'HH:MM:SS', description: 'Slurm time limit per task (default 04:00:00)' },
    { name: 'cpus', type: 'number', value: 'N', description: 'CPUs per task (default 2)' },
    { name: 'mem', type: 'string', value: 'SIZE', description: 'memory per task, e.g. 8G (default 8G)' },
    { name: 'gpus', type: 'number', value: 'N', description: 'GPUs per task (default none)' },
    BACKEND_FLAG,
    JSON_FLAG,
  ],
  details: [
    'Each cell is a complete run config in <out>/cells/<id>.distill.json and an ordinary run folder in <out>/runs/.',
    'Run it again to continue: finished cells are skipped, stopped or crashed ones resumed. Ctrl-C stops every cell at a checkpoint.',
    'When the base config trains its teacher, a "teacher" cell trains it once and every cell uses it.',
    'Then: `distillery report <out>`. The sweep file format is in docs/sweeps.md.',
  ].join('\n'),
  async run(flags, io) {
    const src = sweepSource(flags.positionals[0], flags.string('out'));
    const plan = planSweep(src.file, { out: src.out });
    const concurrency = positiveInt(flags, 'concurrency') ?? plan.sweep.concurrency ?? defaultConcurrency();
    const emit = flags.string('emit');
    if (emit !== undefined && emit !== 'slurm' && emit !== 'k8s') {
      throw new UserError(`--emit must be slurm or k8s, not "${emit}"`, { where: 'distillery sweep' });
    }
    if (flags.bool('dry-run')) return dryRun(plan, flags, io, concurrency);
    for (const w of plan.warnings) writeLine(io.stderr, `warning: ${w}`);

    if (emit) {
      writeCellFiles(plan);
      writeManifest(plan.dir, manifestFor(plan, readManifest(plan.dir), invocation(commandLine(plan))));
      const r = emitCluster(plan, {
        target: emit as EmitTarget,
        concurrency,
        cli: flags.string('cli'),
        image: flags.string('image'),
        pvc: flags.string('pvc'),
        mount: flags.string('mount'),
        workspace: flags.string('workspace'),
        partition: flags.string('partition'),
        time: flags.string('time'),
        cpus: positiveInt(flags, 'cpus'),
        mem: flags.string('mem'),
        gpus: positiveInt(flags, 'gpus'),
        backend: flags.string('backend'),
        localCli: process.argv[1] ? path.resolve(process.argv[1]) : undefined,
      });
      if (flags.bool('json')) {
        await writeJson(io, {
          dir: plan.dir,
          target: emit,
          cells: plan.cells.length,
          teachers: plan.teachers.length,
          files: r.files,
          notes: r.notes,
        });
      } else {
        writeLine(
          io.stdout,
          `sweep ${plan.name}: ${plan.cells.length} cell(s)${plan.teachers.length ? ` + ${plan.teachers.length} shared teacher(s)` : ''} for ${emit === 'slurm' ? 'Slurm' : 'Kubernetes'} in ${plan.dir}`,
        );
        for (const f of r.files) writeLine(io.stdout, `  wrote ${path.relative(process.cwd(), f) || f}`);
        for (const n of r.notes) writeLine(io.stdout, `note: ${n}`);
        if (emit === 'slurm') writeLine(io.stdout, `submit: sh ${path.join(plan.dir, 'slurm', 'submit.sh')}`);
        else {
          // The claim first (once, then fill it with the workspace), then the Jobs.
          writeLine(
            io.stdout,
            `volume: kubectl apply -f ${path.join(plan.dir, 'k8s', 'workspace-pvc.yaml')} (once), then copy the workspace into it`,
          );
          writeLine(io.stdout, `apply: kubectl apply -f ${path.join(plan.dir, 'k8s', 'sweep-jobs.yaml')}`);
        }
        writeLine(io.stdout, `then: distillery report ${plan.dir}`);
      }
      return 0;
    }

    const stop = installStopHandlers(io.stderr);
    try {
      writeLine(
        io.stderr,
        `sweep ${plan.name}: ${plan.cells.length} cell(s)${plan.teachers.length ? ` + ${plan.teachers.length} shared teacher(s)` : ''}, ${concurrency} at once, in ${plan.dir}`,
      );
      const o = await runSweep(plan, {
        cli: localCli(flags),
        concurrency,
        retryFailed: flags.bool('retry-failed'),
        backend: flags.string('backend'),
        stop: stop.signal,
        log: (line) => writeLine(io.stderr, line),
        command: commandLine(plan),
      });
      const all = [...o.manifest.teachers, ...o.manifest.cells];
      const finished = all.filter((c) => c.status === 'finished').length;
      if (flags.bool('json')) {
        await writeJson(io, {
          dir: o.dir,
          manifest: path.join(o.dir, 'sweep.json'),
          finished,
          total: all.length,
          trained: o.trained,
          resumed: o.resumed,
          skipped: o.skipped,
          failed: o.failed,
          blocked: o.blocked,
          stopped: o.stopped,
        });
      } else {
        writeLine(
          io.stdout,
          `sweep ${plan.name}: ${finished}/${all.length} cells finished (${o.trained.length} trained, ${o.resumed.length} resumed, ${o.skipped.length} skipped${o.failed.length ? `, ${o.failed.length} failed: ${o.failed.join(', ')}` : ''}${o.blocked.length ? `, ${o.blocked.length} blocked` : ''})${o.stopped ? ' — stopped; run the same command again to continue' : ''}`,
        );
        writeLine(io.stdout, `report: distillery report ${path.relative(process.cwd(), o.dir) || '.'}`);
      }
      if (o.stopped) return stop.signal.requested === 'SIGINT' ? 130 : 143;
      return finished === all.length ? 0 : 1;
    } finally {
      stop.dispose();
    }
  },
};
