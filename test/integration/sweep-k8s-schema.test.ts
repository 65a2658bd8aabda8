/**
 * `sweep --emit k8s` against the official Kubernetes API schema: every document of every emitted
 * manifest (the indexed Jobs, the PersistentVolumeClaim) is parsed as YAML and validated with ajv
 * against the strict JSON schema of Kubernetes v1.33.0 (unknown fields are errors), for several
 * option sets; and manifests broken on purpose (a misspelt field, a list given as a string, a
 * number as a string, a missing required field, a field at the wrong level, an unknown kind) fail
 * the check with an error naming the place. Kubernetes' published schema has no enums (e.g. any
 * string passes as completionMode): test/integration/sweep-emit.test.ts checks those values in the text.
 * The container's command, taken from the parsed Job, is also run the way a pod runs it.
 * The schemas come from scripts/fetch-k8s-schema.sh (setup-test-deps.sh runs it) into
 * .cache/k8s-schema/; without them the tests skip, naming the reason; with CI=true they fail.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Ajv2020, { ErrorObject, ValidateFunction } from 'ajv/dist/2020';
import { parseAllDocuments } from 'yaml';
import { generateDemoTask } from '../../src/data/demo-task';
import { planSweep } from '../../src/sweep/plan';
import { emitCluster, EmitOptions } from '../../src/sweep/emit';
import { manifestFor, writeCellFiles, writeManifest } from '../../src/sweep/sweep-folder';
import { writeTinyCheckpoint } from '../helpers/tiny-checkpoint';
import { REPO_ROOT } from '../helpers/paths';

const K8S_SCHEMA_VERSION = 'v1.33.0-local-strict';
const SCHEMA_DIR = path.join(REPO_ROOT, '.cache', 'k8s-schema', K8S_SCHEMA_VERSION);
/** The schema file of each kind the emitter writes (apiVersion/kind → file). */
const SCHEMA_FILES: Record<string, string> = {
  'batch/v1 Job': 'job-batch-v1.json',
  'v1 PersistentVolumeClaim': 'persistentvolumeclaim-v1.json',
  'v1 ConfigMap': 'configmap-v1.json',
};

const missing = ['_definitions.json', ...Object.values(SCHEMA_FILES)].filter(
  (f) => !fs.existsSync(path.join(SCHEMA_DIR, f)),
);
const problem = missing.length
  ? `the Kubernetes schemas are not in ${SCHEMA_DIR} (missing ${missing.join(', ')})`
  : undefined;
const skip =
  problem && process.env.CI !== 'true'
    ? `${problem}; fetch them with \`bash scripts/fetch-k8s-schema.sh\` (with CI=true this is a failure)`
    : false;

const made: string[] = [];
after(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

// ---- the validator -------------------------------------------------------------------------------

let validators: Map<string, ValidateFunction> | undefined;

function schemaValidators(): Map<string, ValidateFunction> {
  if (problem) assert.fail(`CI=true needs ${problem}: run bash scripts/fetch-k8s-schema.sh`);
  if (validators) return validators;
  // Kubernetes' schemas carry OpenAPI extensions (x-kubernetes-*): not errors here.
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  // The OpenAPI formats the schemas use; ajv knows none of them by default.
  const int = (bits: number) => (n: number) => Number.isInteger(n) && Math.abs(n) <= 2 ** (bits - 1);
  ajv.addFormat('int32', { type: 'number', validate: int(32) });
  ajv.addFormat('int64', { type: 'number', validate: int(64) });
  ajv.addFormat('double', { type: 'number', validate: (n: number) => Number.isFinite(n) });
  ajv.addFormat('byte', /^[A-Za-z0-9+/]*={0,2}$/);
  ajv.addFormat('date-time', (s: string) => !Number.isNaN(Date.parse(s)));
  const load = (f: string): Record<string, unknown> =>
    JSON.parse(fs.readFileSync(path.join(SCHEMA_DIR, f), 'utf8')) as Record<string, unknown>;
  ajv.addSchema(load('_definitions.json'));
  validators = new Map(Object.entries(SCHEMA_FILES).map(([kind, f]) => [kind, ajv.compile(load(f))]));
  return validators;
}

interface Problem {
  doc: number;
  kind: string;
  errors: string[];
}

function describe(e: ErrorObject): string {
  return `${e.instancePath || '/'} ${e.message ?? e.keyword}${e.keyword === 'additionalProperties' ? ` (${String((e.params as { additionalProperty?: string }).additionalProperty)})` : ''}${e.keyword === 'enum' ? ` ${JSON.stringify((e.params as { allowedValues?: unknown }).allowedValues)}` : ''}`;
}

/** Every YAML document of a manifest file, checked against its kind's schema; [] when all pass. */
function checkManifest(text: string): { kinds: string[]; problems: Problem[] } {
  const v = schemaValidators();
  const kinds: string[] = [];
  const problems: Problem[] = [];
  parseAllDocuments(text).forEach((d, i) => {
    if ('errors' in d && d.errors.length) {
      problems.push({ doc: i, kind: '?', errors: d.errors.map((e) => `YAML: ${e.message}`) });
      return;
    }
    const obj: unknown = d.toJS();
    if (obj === null || obj === undefined) return; // a document of comments only
    const o = obj as { apiVersion?: unknown; kind?: unknown };
    const kind = `${String(o.apiVersion)} ${String(o.kind)}`;
    kinds.push(kind);
    const validate = v.get(kind);
    if (!validate) {
      problems.push({ doc: i, kind, errors: [`no schema for ${kind} (known: ${[...v.keys()].join(', ')})`] });
      return;
    }
    if (!validate(obj)) problems.push({ doc: i, kind, errors: (validate.errors ?? []).map(describe) });
  });
  return { kinds, problems };
}

// ---- emitted sweeps --------------------------------------------------------------------------------

function project(withSharedTeacher: boolean): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'distillery-k8s-'));
  made.push(dir);
  const files = generateDemoTask(path.join(dir, 'data'), { trainSize: 20, devSize: 10, seed: 1 });
  const task = {
    name: 'custom',
    maxSeqLen: 24,
    custom: { train: 'data/train.tsv', dev: 'data/dev.tsv', textA: 'sentence', label: 'label' },
  };
  let teacher: Record<string, unknown>;
  if (withSharedTeacher) {
    teacher = {
      train: {
        from: 'scratch',
        architecture: { layers: 2, hiddenSize: 32, heads: 2, intermediateSize: 64 },
        vocab: 'data/vocab.txt',
        epochs: 1,
      },
    };
  } else {
    writeTinyCheckpoint(path.join(dir, 'models', 'teacher'), { vocabFile: files.vocab, layers: 2 });
    fs.copyFileSync(files.vocab, path.join(dir, 'models', 'teacher', 'vocab.txt'));
    teacher = { checkpoint: 'models/teacher' };
  }
  const file = path.join(dir, 'k.sweep.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      name: 'K8s-Check.V1',
      base: { task, teacher, student: { layers: 1 }, algorithm: 'soft' },
      grid: { algorithms: ['soft', 'pid'], seeds: [1, 2, 3] },
    }),
  );
  return file;
}

function emitted(withSharedTeacher: boolean, o: Omit<EmitOptions, 'target'>): { files: string[]; teachers: number } {
  const plan = planSweep(project(withSharedTeacher));
  writeCellFiles(plan);
  writeManifest(plan.dir, manifestFor(plan, undefined));
  const r = emitCluster(plan, { target: 'k8s', ...o });
  return { files: r.files.filter((f) => f.endsWith('.yaml')), teachers: plan.teachers.length };
}

const OPTION_SETS: Array<[string, boolean, Omit<EmitOptions, 'target'>]> = [
  ['defaults, a shared teacher', true, { concurrency: 2 }],
  [
    'every option, GPUs',
    true,
    {
      concurrency: 16,
      image: 'ghcr.io/me/distillery:1.2.3',
      pvc: 'team-nfs',
      mount: '/mnt/work',
      cpus: 4,
      mem: '12G',
      gpus: 2,
      cli: 'node /opt/d/bin/distillery.js',
      backend: 'tensorflow-gpu',
    },
  ],
  ['a pre-trained teacher (no teacher Job), memory in Gi', false, { concurrency: 1, mem: '3Gi', cpus: 1 }],
];

for (const [name, shared, options] of OPTION_SETS) {
  test(`every emitted manifest is valid Kubernetes ${K8S_SCHEMA_VERSION.split('-')[0]}: ${name}`, { skip }, () => {
    const { files, teachers } = emitted(shared, options);
    assert.deepEqual(files.map((f) => path.basename(f)).sort(), ['sweep-jobs.yaml', 'workspace-pvc.yaml']);
    const all: string[] = [];
    for (const f of files) {
      const { kinds, problems } = checkManifest(fs.readFileSync(f, 'utf8'));
      assert.deepEqual(problems, [], `${f}:\n${JSON.stringify(problems, null, 2)}`);
      all.push(...kinds);
    }
    assert.deepEqual(all.sort(), [...Array(teachers ? 2 : 1).fill('batch/v1 Job'), 'v1 PersistentVolumeClaim'].sort());
  });
}

test('a manifest broken on purpose fails the schema check, naming the field', { skip }, () => {
  const { files } = emitted(true, { concurrency: 2, gpus: 1 });
  const jobs = fs.readFileSync(
    files.find((f) => f.endsWith('sweep-jobs.yaml'))!,
    'utf8',
  );
  assert.deepEqual(checkManifest(jobs).problems, []);
  const broken: Array<[string, (t: string) => string, RegExp]> = [
    [
      'a misspelt field',
      (t) => t.replace(/workingDir:/g, 'workDir:'),
      /\/spec\/template\/spec\/containers\/0 must NOT have additional properties \(workDir\)/,
    ],
    [
      'a list given as a string',
      (t) => t.replace(/command: \[.*\]/g, 'command: "sh run-cell.sh"'),
      /\/spec\/template\/spec\/containers\/0\/command must be array/,
    ],
    [
      'a number as a string',
      (t) => t.replace(/parallelism: (\d+)/g, 'parallelism: "$1"'),
      /\/spec\/parallelism must be integer/,
    ],
    [
      'a required field left out',
      (t) => t.replace(/- name: cell/g, '- stdin: false'),
      /\/spec\/template\/spec\/containers\/0 must have required property 'name'/,
    ],
    [
      'a field at the wrong level',
      (t) => t.replace(/^( {2})completions: /m, '$1completion: '),
      /\/spec must NOT have additional properties \(completion\)/,
    ],
  ];
  for (const [what, edit, expected] of broken) {
    const text = edit(jobs);
    assert.notEqual(text, jobs, `${what}: the edit applies`);
    const { problems } = checkManifest(text);
    assert.ok(problems.length > 0, `${what}: rejected`);
    const messages = problems.flatMap((p) => p.errors).join('\n');
    assert.match(messages, expected, `${what}:\n${messages}`);
  }
  // A kind the emitter never writes has no schema here: reported, not passed.
  const { problems } = checkManifest('apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: x\n');
  assert.match(problems[0]?.errors[0] ?? '', /no schema for batch\/v1 CronJob/);
});

test("the claim is ReadWriteMany and named like the Jobs' volume", () => {
  const { files } = emitted(true, { concurrency: 2, pvc: 'team-nfs' });
  const docs = (f: string) =>
    parseAllDocuments(fs.readFileSync(f, 'utf8'))
      .map((d) => d.toJS() as Record<string, unknown> | null)
      .filter((x): x is Record<string, unknown> => x !== null);
  const [claim] = docs(files.find((f) => f.endsWith('workspace-pvc.yaml'))!) as Array<{
    metadata: { name: string };
    spec: { accessModes: string[] };
  }>;
  assert.equal(claim.metadata.name, 'team-nfs');
  assert.deepEqual(claim.spec.accessModes, ['ReadWriteMany']);
  const jobs = docs(files.find((f) => f.endsWith('sweep-jobs.yaml'))!) as Array<{
    spec: { template: { spec: { volumes: Array<{ persistentVolumeClaim: { claimName: string } }> } } };
  }>;
  for (const j of jobs) assert.equal(j.spec.template.spec.volumes[0].persistentVolumeClaim.claimName, 'team-nfs');
});

test('the container command, run as Kubernetes runs it (sh in workingDir, JOB_COMPLETION_INDEX set), starts the cell of that index', () => {
  const plan = planSweep(project(true));
  writeCellFiles(plan);
  writeManifest(plan.dir, manifestFor(plan, undefined));
  const jobsFile = emitCluster(plan, { target: 'k8s', concurrency: 2, mount: '/workspace' }).files.find((f) =>
    f.endsWith('sweep-jobs.yaml'),
  )!;
  const [, cellsJob] = parseAllDocuments(fs.readFileSync(jobsFile, 'utf8'))
    .map(
      (d) =>
        d.toJS() as
          | { spec: { template: { spec: { containers: Array<{ command: string[]; workingDir: string }> } } } }
          | null
          | undefined,
    )
    .filter((x) => x != null);
  const [container] = cellsJob!.spec.template.spec.containers;
  // The volume holds the workspace (here: the project folder) at the mount path.
  const workspace = path.dirname(path.dirname(plan.dir));
  const cwd = path.join(workspace, path.relative('/workspace', container.workingDir));
  assert.equal(cwd, plan.dir);
  fs.mkdirSync(path.join(plan.dir, 'teachers', 'teacher'), { recursive: true });
  fs.writeFileSync(path.join(plan.dir, 'teachers', 'teacher', 'READY'), 'now\n');
  const [cmd, ...args] = container.command;
  const r = spawnSync(cmd, args, {
    cwd,
    env: { ...process.env, JOB_COMPLETION_INDEX: '3', DISTILLERY: 'echo CLI', HOSTNAME: 'k-cells-3-abcde' },
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), `CLI train ${plan.cells[3].configFile} --no-events`);
  assert.match(fs.readFileSync(path.join(plan.dir, 'tasks', plan.cells[3].id), 'utf8'), /^\S+\t\S+\t\d{4}-\d\d-\d\dT/);
});
