/**
 * Measures, on real inputs, how far every student layer is from every teacher layer under the
 * paper's two internal losses: the attention KL and the [CLS] cosine distance, with the very loss
 * functions the trainer uses (src/distill/losses.ts). The mapping advisor picks pairs from these.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BertModel } from '../model/bert';
import type { Encoding } from '../data/encoding';
import { makeBatch } from '../data/batching';
import { disposeInputs, toBertInputs } from '../model/inputs';
import { attentionKl, clsCosine } from './losses';
import { clsVector } from './objective';
import type { CostMatrix } from './mapping-advisor';

export interface LayerCostOptions {
  batchSize: number;
  padId: number;
  /** Compare head-averaged attention maps (losses.attentionKlHeads "average" with unequal head counts). */
  headAverage: boolean;
  /** Also measure the [CLS] cosine; only meaningful when the widths match (no learned projection yet). */
  withCosine: boolean;
}

export interface LayerCosts {
  /** Mean KL(A_T ‖ A_S) per [student − 1][teacher − 1], padding masked. */
  attentionKl: CostMatrix;
  /** Mean 1 − cos([CLS]_T, [CLS]_S) per pair; null without withCosine. */
  clsCosine: CostMatrix | null;
  examples: number;
}

/** Means over the examples (each batch's loss weighted by its size, as the trainer's evaluation does). */
export async function layerCosts(
  teacher: BertModel,
  student: BertModel,
  encodings: readonly Encoding[],
  opts: LayerCostOptions,
): Promise<LayerCosts> {
  const ls = student.config.numHiddenLayers;
  const lt = teacher.config.numHiddenLayers;
  const kl = Array.from({ length: ls }, () => new Array<number>(lt).fill(0));
  const cos = opts.withCosine ? Array.from({ length: ls }, () => new Array<number>(lt).fill(0)) : null;
  // Grouped by length, so batches carry little padding.
  const order = encodings
    .map((_, i) => i)
    .sort((a, b) => encodings[a].inputIds.length - encodings[b].inputIds.length || a - b);
  let seen = 0;
  for (let at = 0; at < order.length; at += opts.batchSize) {
    const rows = order.slice(at, at + opts.batchSize);
    const batch = makeBatch(
      rows.map((i) => encodings[i]),
      rows.map(() => null),
      rows,
      opts.padId,
    );
    const inputs = toBertInputs(batch);
    const values = tf.tidy(() => {
      const t = teacher.forward(inputs, { training: false });
      const s = student.forward(inputs, { training: false });
      const out: tf.Scalar[] = [];
      for (let i = 0; i < ls; i++) {
        for (let j = 0; j < lt; j++) {
          out.push(
            attentionKl(t.attentions[j], s.attentions[i], inputs.attentionMask, { headAverage: opts.headAverage }),
          );
          if (cos) out.push(clsCosine(clsVector(t.hiddenStates[j + 1]), clsVector(s.hiddenStates[i + 1])));
        }
      }
      return tf.stack(out) as tf.Tensor1D;
    });
    const v = await values.data();
    values.dispose();
    disposeInputs(inputs);
    const per = cos ? 2 : 1;
    for (let i = 0; i < ls; i++) {
      for (let j = 0; j < lt; j++) {
        const k = (i * lt + j) * per;
        kl[i][j] += v[k] * rows.length;
        if (cos) cos[i][j] += v[k + 1] * rows.length;
      }
    }
    seen += rows.length;
  }
  const mean = (m: CostMatrix): CostMatrix => m.map((r) => r.map((x) => x / Math.max(seen, 1)));
  return { attentionKl: mean(kl), clsCosine: cos ? mean(cos) : null, examples: seen };
}
