/**
 * Builds a student's starting weights from its teacher (the paper's initialisation): embeddings,
 * pooler and task head copied, and student layer k copied from the teacher layer it is mapped to.
 * Works on plain named tensors (Hugging Face names), so it needs no TF.js.
 */
import { BertConfig } from '../model/config';
import { NamedTensors } from '../model/named-tensors';
import { UserError } from '../util/errors';
import { LayerPair } from './mapping';

const LAYER_PREFIX = /^bert\.encoder\.layer\.(\d+)\./;

/** The student's config: the teacher's with fewer layers and optionally other widths. */
export function studentConfig(
  teacher: BertConfig,
  s: { layers: number; hiddenSize?: number; heads?: number; intermediateSize?: number },
): BertConfig {
  return {
    ...teacher,
    numHiddenLayers: s.layers,
    hiddenSize: s.hiddenSize ?? teacher.hiddenSize,
    numAttentionHeads: s.heads ?? teacher.numAttentionHeads,
    intermediateSize: s.intermediateSize ?? teacher.intermediateSize,
    labels: [...teacher.labels],
  };
}

/**
 * Student layer k (1-based) starts from the teacher layer mapped to it; unmapped student layers
 * take the teacher layer at the same relative depth, so every layer starts from trained weights.
 */
export function sourceLayerFor(
  k: number,
  studentLayers: number,
  teacherLayers: number,
  pairs: readonly LayerPair[],
): number {
  const p = pairs.find((x) => x.student === k);
  if (p) return p.teacher;
  return Math.max(1, Math.min(teacherLayers, Math.round((k * teacherLayers) / studentLayers)));
}

export function initStudentFromTeacher(
  teacherTensors: NamedTensors,
  teacherCfg: BertConfig,
  studentCfg: BertConfig,
  pairs: readonly LayerPair[],
): NamedTensors {
  if (
    studentCfg.hiddenSize !== teacherCfg.hiddenSize ||
    studentCfg.intermediateSize !== teacherCfg.intermediateSize ||
    studentCfg.numAttentionHeads !== teacherCfg.numAttentionHeads
  ) {
    throw new UserError(
      `student.init "teacher-layers" copies teacher weights, so the student needs the teacher's widths (hidden ${teacherCfg.hiddenSize}, heads ${teacherCfg.numAttentionHeads}, intermediate ${teacherCfg.intermediateSize})`,
      {
        where: 'student.init',
        fix: 'remove student.hiddenSize/heads/intermediateSize, or set student.init to "random"',
      },
    );
  }
  const out: NamedTensors = new Map();
  for (const [name, t] of teacherTensors) {
    const m = LAYER_PREFIX.exec(name);
    if (!m) out.set(name, { shape: [...t.shape], data: t.data.slice() });
  }
  for (let k = 1; k <= studentCfg.numHiddenLayers; k++) {
    const src = sourceLayerFor(k, studentCfg.numHiddenLayers, teacherCfg.numHiddenLayers, pairs);
    const prefix = `bert.encoder.layer.${src - 1}.`;
    for (const [name, t] of teacherTensors) {
      if (name.startsWith(prefix)) {
        out.set(`bert.encoder.layer.${k - 1}.${name.slice(prefix.length)}`, {
          shape: [...t.shape],
          data: t.data.slice(),
        });
      }
    }
  }
  return out;
}
