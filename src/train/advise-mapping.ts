/**
 * `distillery advise-mapping`: loads a config's teacher and its student as the run would start
 * them, measures every (student layer, teacher layer) pair on dev examples, and proposes the
 * monotone layer mapping with the least combined cost.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadConfigFile } from '../validate/validate';
import { LayerPairSpec, ResolvedConfig } from '../config/types';
import { BackendRequest, initBackend } from '../model/backend';
import { BertModel } from '../model/bert';
import { loadCheckpoint } from '../model/checkpoint';
import { WordPieceTokenizer } from '../data/tokenizer';
import { LayerPair, pairSpec, resolveMapping } from '../distill/mapping';
import { studentConfig } from '../distill/student-init';
import { layerCosts } from '../distill/layer-costs';
import { combineCosts, compareMappings, mappingSnippet, monotoneMapping } from '../distill/mapping-advisor';
import type { MappingAdvice } from '../distill/mapping-report';
import { UserError } from '../util/errors';
import { readTaskDatasets } from './task-data';
import { buildStudent } from './run';

export type { MappingAdvice };

export const DEFAULT_ADVICE_SAMPLE = 64;

/** The teacher folder the run would distil from; a teacher the run trains must exist already. */
export function readyTeacherDir(config: ResolvedConfig, configFile: string): string {
  const t = config.teacher;
  if ('checkpoint' in t) return t.checkpoint;
  if (t.output && fs.existsSync(path.join(t.output, 'READY'))) return t.output;
  throw new UserError(
    'the config trains its teacher (teacher.train), and no trained teacher is there yet to compare layers with',
    {
      where: 'teacher',
      fix: `train it first with \`distillery train ${configFile} --teacher-only\` and set teacher.output (or teacher.checkpoint) to the teacher folder it writes`,
    },
  );
}

const pairsOf = (p: readonly LayerPair[]): LayerPairSpec[] => p.map(pairSpec);

export async function adviseMapping(
  configFile: string,
  opts: { sample?: number; backend?: BackendRequest } = {},
): Promise<MappingAdvice> {
  const config = loadConfigFile(configFile);
  const sample = opts.sample ?? DEFAULT_ADVICE_SAMPLE;
  const teacherDir = readyTeacherDir(config, configFile);
  const { info, dev } = readTaskDatasets(config.task);
  if (dev.examples.length === 0) {
    throw new UserError('the dev set has no examples to measure the layers on', {
      where: 'task',
      fix: 'check task.dataDir (or task.custom.dev)',
    });
  }
  const backendInfo = await initBackend(opts.backend ?? config.backend);
  const teacherCk = loadCheckpoint(teacherDir, {
    numLabels: info.numLabels,
    labels: info.labels,
    regression: info.isRegression,
  });
  const tCfg = teacherCk.config;
  const sCfg = studentConfig(tCfg, {
    layers: config.student.layers,
    hiddenSize: config.student.hiddenSize,
    heads: config.student.heads,
    intermediateSize: config.student.intermediateSize,
  });
  const notes: string[] = [];

  const headAverage = sCfg.numAttentionHeads !== tCfg.numAttentionHeads;
  if (headAverage && config.losses.attentionKlHeads !== 'average') {
    throw new UserError(
      `the attention KL compares head by head, but the student has ${sCfg.numAttentionHeads} heads and the teacher ${tCfg.numAttentionHeads}`,
      {
        where: 'student.heads',
        fix: `set student.heads to ${tCfg.numAttentionHeads} (or remove it), or set losses.attentionKlHeads to "average" to compare head-averaged maps`,
      },
    );
  }
  if (headAverage)
    notes.push(
      `the student has ${sCfg.numAttentionHeads} heads and the teacher ${tCfg.numAttentionHeads}: the attention KL compares head-averaged maps (losses.attentionKlHeads "average")`,
    );
  const withCosine = sCfg.hiddenSize === tCfg.hiddenSize;
  if (!withCosine) {
    notes.push(
      `the widths differ (student ${sCfg.hiddenSize}, teacher ${tCfg.hiddenSize}): the [CLS] cosine needs the projection the run learns, so only the attention KL is used`,
    );
  }

  const current = resolveMapping(config.mapping, sCfg.numHiddenLayers, tCfg.numHiddenLayers);
  const init = config.student.init;
  if (init === 'teacher-layers') {
    notes.push(
      'student.init is "teacher-layers": the student measured copies the teacher layers of the current mapping, so the costs favour it; after changing the mapping, run the advisor again (the same answer twice means it is stable)',
    );
  } else if (init === 'random') {
    notes.push(
      'student.init is "random": an untrained student says little about which teacher layers suit it; the advice is weak',
    );
  }

  const tokenizer = WordPieceTokenizer.fromModelDir(teacherDir);
  const encodings = dev.examples
    .slice(0, sample)
    .map((ex) => tokenizer.encode(ex.textA, ex.textB, config.task.maxSeqLen));
  if (encodings.length < sample)
    notes.push(`the dev set has ${encodings.length} examples, fewer than --sample ${sample}: all of them were used`);

  const teacher = BertModel.fromNamedTensors(tCfg, teacherCk.tensors, {
    trainable: false,
    initHeadSeed: 0,
    source: teacherDir,
  });
  let costs;
  try {
    const student = buildStudent(config, sCfg, teacherCk.tensors, tCfg, current, undefined);
    try {
      costs = await layerCosts(teacher, student, encodings, {
        batchSize: config.eval.batchSize,
        padId: tokenizer.padId,
        headAverage,
        withCosine,
      });
    } finally {
      student.dispose();
    }
  } finally {
    teacher.dispose();
  }

  const weights = { attentionKl: config.losses.attentionKl, clsCosine: config.losses.clsCosine };
  const cost = combineCosts([
    { matrix: costs.attentionKl, weight: weights.attentionKl },
    { matrix: costs.clsCosine, weight: weights.clsCosine },
  ]);
  const proposed = monotoneMapping(cost);
  return {
    config: configFile,
    teacherDir,
    teacher: { layers: tCfg.numHiddenLayers, heads: tCfg.numAttentionHeads, hiddenSize: tCfg.hiddenSize },
    student: {
      layers: sCfg.numHiddenLayers,
      heads: sCfg.numAttentionHeads,
      hiddenSize: sCfg.hiddenSize,
      init: typeof init === 'string' ? init : `checkpoint ${init.checkpoint}`,
    },
    examples: costs.examples,
    attentionKl: costs.attentionKl,
    clsCosine: costs.clsCosine,
    cost,
    costRule: costRule(weights, costs.clsCosine !== null),
    weights,
    headAverage,
    proposed: pairsOf(proposed.pairs),
    current: pairsOf(current),
    comparison: compareMappings(cost, current, proposed.pairs),
    snippet: mappingSnippet(proposed.pairs),
    notes,
    backend: backendInfo.kind,
  };
}

/** combineCosts' rule in words (the same choice of terms and weights). */
function costRule(w: { attentionKl: number; clsCosine: number }, withCosine: boolean): string {
  const present = [
    { name: 'attention KL', w: w.attentionKl },
    ...(withCosine ? [{ name: '[CLS] cosine', w: w.clsCosine }] : []),
  ];
  const weighted = present.filter((t) => t.w > 0);
  const used = weighted.length ? weighted : present.map((t) => ({ ...t, w: 1 }));
  return (
    `${used.map((t) => `${t.w} × ${t.name}`).join(' + ')}, each rescaled to [0, 1] over all pairs ` +
    `(weights: losses.attentionKl and losses.clsCosine${weighted.length ? '' : ', none above 0, so 1 each'})`
  );
}
