import * as tf from '@tensorflow/tfjs-core';
import { Verb, BACKEND_FLAG, JSON_FLAG } from '../verb';
import { CliIO, writeJson, writeLine } from '../io';
import { openModel, parseBackendFlag } from '../model-session';
import { toBertInputs } from '../../model/inputs';
import { UserError } from '../../util/errors';

/** What `inspect --json` prints: everything the model computes for one input. */
export interface InspectResult {
  backend: string;
  model: { dir: string; layers: number; hidden: number; heads: number; parameters: Record<string, number> };
  notes: string[];
  tokens: string[];
  inputIds: number[];
  tokenTypeIds: number[];
  logits: number[];
  /** Softmax of the logits (classification) — empty for regression. */
  probabilities: number[];
  prediction: string | number;
  /** The [CLS] vector after the embeddings and after every layer: numHiddenLayers + 1 vectors. */
  hiddenCls: number[][];
  /** attentions[layer][head][query][key]: softmax probabilities. */
  attentions: number[][][][];
}

export const inspectVerb: Verb = {
  name: 'inspect',
  summary: 'run a checkpoint on one input and print tokens, logits, per-layer [CLS] states and attention maps',
  positionals: [{ name: 'modelDir', description: 'a BERT folder: config.json, model.safetensors, vocab.txt' }],
  flags: [
    { name: 'text', type: 'string', value: 'TEXT', description: 'the input sentence (required)' },
    { name: 'text-pair', type: 'string', value: 'TEXT', description: 'a second sentence, for pair tasks' },
    {
      name: 'max-len',
      type: 'number',
      value: 'N',
      description: "truncate to N tokens including [CLS]/[SEP] (default: the model's maximum)",
    },
    JSON_FLAG,
    BACKEND_FLAG,
  ],
  details: 'example: distillery inspect models/teacher --text "a gripping film" --json > out.json',
  async run(flags, io) {
    const text = flags.string('text');
    if (text === undefined)
      throw new UserError('this option is required', { where: '--text', fix: 'pass --text "your sentence"' });
    const pair = flags.string('text-pair');
    const maxLenFlag = flags.integer('max-len', pair === undefined ? 2 : 3);
    const session = await openModel(flags.positionals[0], { backend: parseBackendFlag(flags.string('backend')) });
    const { model, tokenizer, checkpoint, backend } = session;
    const cfg = checkpoint.config;
    const maxLen = maxLenFlag ?? cfg.maxPositionEmbeddings;
    const enc = tokenizer.encode(text, pair, Math.min(maxLen, cfg.maxPositionEmbeddings));
    const n = enc.inputIds.length;
    const inputs = toBertInputs({
      size: 1,
      seqLen: n,
      inputIds: Int32Array.from(enc.inputIds),
      tokenTypeIds: Int32Array.from(enc.tokenTypeIds),
      attentionMask: new Int32Array(n).fill(1),
    });
    const out = model.forward(inputs, { training: false });
    const logits = Array.from(await out.logits.data());
    const hiddenCls: number[][] = [];
    for (const h of out.hiddenStates) {
      const cls = tf.tidy(() => tf.reshape(tf.slice(h, [0, 0, 0], [1, 1, -1]), [-1]));
      hiddenCls.push(Array.from(await cls.data()));
      cls.dispose();
    }
    const attentions = (await Promise.all(out.attentions.map((a) => a.array()))).map((a) => a[0]);
    tf.dispose([
      inputs.inputIds,
      inputs.tokenTypeIds,
      inputs.attentionMask,
      out.logits,
      out.pooled,
      ...out.hiddenStates,
      ...out.attentions,
    ]);
    model.dispose();

    const regression = cfg.problemType === 'regression';
    const probabilities = regression ? [] : softmax(logits);
    const best = probabilities.indexOf(Math.max(...probabilities));
    const result: InspectResult = {
      backend: backend.kind,
      model: {
        dir: checkpoint.dir,
        layers: cfg.numHiddenLayers,
        hidden: cfg.hiddenSize,
        heads: cfg.numAttentionHeads,
        parameters: { ...model.parameterCounts() },
      },
      notes: checkpoint.notes,
      tokens: enc.tokens,
      inputIds: enc.inputIds,
      tokenTypeIds: enc.tokenTypeIds,
      logits,
      probabilities,
      prediction: regression ? logits[0] : (cfg.labels[best] ?? String(best)),
      hiddenCls,
      attentions,
    };
    for (const note of checkpoint.notes) writeLine(io.stderr, `note: ${note}`);
    writeLine(io.stderr, `backend: ${backend.kind}`);
    if (flags.bool('json')) await writeJson(io, result);
    else printSummary(io, result);
    return 0;
  },
};

export function softmax(xs: number[]): number[] {
  const m = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

function fmt(xs: number[], digits = 4): string {
  return `[${xs.map((x) => x.toFixed(digits)).join(', ')}]`;
}

function printSummary(io: CliIO, r: InspectResult): void {
  const w = (s = '') => writeLine(io.stdout, s);
  w(
    `model      ${r.model.dir}: ${r.model.layers} layers, hidden ${r.model.hidden}, ${r.model.heads} heads, ${r.model.parameters.total.toLocaleString('en-US')} parameters`,
  );
  w(`backend    ${r.backend}`);
  w(`tokens     ${r.tokens.join(' ')}`);
  w(`input ids  ${r.inputIds.join(' ')}`);
  w(`types      ${r.tokenTypeIds.join(' ')}`);
  w(`logits     ${fmt(r.logits)}`);
  if (r.probabilities.length) w(`probs      ${fmt(r.probabilities)}`);
  w(`prediction ${r.prediction}`);
  w('');
  w('[CLS] vector norm after the embeddings and each layer:');
  r.hiddenCls.forEach((v, i) =>
    w(`  ${i === 0 ? 'embeddings' : `layer ${i}`.padEnd(10)}  ${Math.hypot(...v).toFixed(4)}`),
  );
  w('');
  w('Where [CLS] attends most, per layer and head:');
  r.attentions.forEach((layer, l) => {
    const heads = layer.map((head) => {
      const row = head[0];
      const k = row.indexOf(Math.max(...row));
      return `${r.tokens[k]} ${row[k].toFixed(2)}`;
    });
    w(`  layer ${l + 1}: ${heads.join(' | ')}`);
  });
  w('');
  w('Use --json for every value (hiddenCls, attentions[layer][head][query][key]).');
}
