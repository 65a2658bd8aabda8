/**
 * The maps an 'attention-sample' event holds for one mapped layer: the attention maps always, and
 * MiniLM's value relations softmax(V·Vᵀ/√d) in runs that train value-relation. Pure functions, so
 * the heatmap view and its tests share them.
 */
import type { AttentionSampleEvent, AttentionSampleLayer } from '../../src/protocol/events';
import { selectHead, type AttentionMap } from './colorscale';

export const MAP_KINDS = ['attention', 'value-relation'] as const;
export type MapKind = (typeof MAP_KINDS)[number];

export interface MapPair {
  /** [head][query][key]. */
  teacher: number[][][];
  student: number[][][];
}

/** The layer's teacher and student maps of one kind; undefined when the sample has none of that kind. */
export function mapsOf(layer: AttentionSampleLayer | undefined, kind: MapKind): MapPair | undefined {
  if (!layer) return undefined;
  if (kind === 'attention') return { teacher: layer.teacherMaps, student: layer.studentMaps };
  const { teacherValueRelations: teacher, studentValueRelations: student } = layer;
  return teacher && student ? { teacher, student } : undefined;
}

/** The head (or the mean of heads, head −1) of both sides of a pair. */
export function pairHead(pair: MapPair, head: number): { teacher: AttentionMap; student: AttentionMap } {
  return { teacher: selectHead(pair.teacher, head), student: selectHead(pair.student, head) };
}

/**
 * The top of a kind's colour scale for one layer and head: the largest value over every sample,
 * teacher and student (at most 1, and 1 when there is nothing), so both maps and every evaluation
 * share it.
 */
export function sharedScaleMax(
  samples: readonly AttentionSampleEvent[],
  layerIndex: number,
  head: number,
  kind: MapKind,
): number {
  let max = 0;
  for (const sample of samples) {
    const pair = mapsOf(sample.layers[layerIndex], kind);
    if (!pair) continue;
    for (const maps of [pair.teacher, pair.student]) {
      for (const row of selectHead(maps, head)) for (const p of row) if (p > max) max = p;
    }
  }
  return max > 0 ? Math.min(1, max) : 1;
}
