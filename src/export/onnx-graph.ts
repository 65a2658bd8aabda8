/**
 * The student as an ONNX graph (opset 17): BertForSequenceClassification's inference forward pass
 * from input_ids, attention_mask and token_type_ids (int64, dynamic batch and sequence axes) to
 * logits, with the weights as initializers. It computes what src/model/bert.ts computes with
 * training off: exact erf GELU, LayerNormalization, the additive float32-min mask of padded keys.
 */
import { BertConfig, headDim } from '../model/config';
import { NamedTensor, NamedTensors } from '../model/named-tensors';
import { UserError } from '../util/errors';
import {
  AttributeProto,
  AttributeType,
  DataType,
  ModelProto,
  NodeProto,
  TensorProto,
  MAX_ONNX_BYTES,
  floatTensor,
  int64Tensor,
  valueInfo,
} from './onnx-proto';

/** LayerNormalization joined the default domain in opset 17. */
export const ONNX_OPSET = 17;
/** IR version 8 is the one that goes with opset 17 (onnx/docs/Versioning.md). */
export const ONNX_IR_VERSION = 8;

export const ONNX_INPUTS = ['input_ids', 'attention_mask', 'token_type_ids'] as const;
export const ONNX_OUTPUT = 'logits';

/** torch.finfo(torch.float32).min, the additive mask value Hugging Face (and bert.ts) use. */
const MASK_VALUE = -3.4028234663852886e38;

class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  initializerBytes = 0;
  private count = 0;

  node(opType: string, inputs: string[], attrs: AttributeProto[] = [], name?: string): string {
    const out = name ?? `${opType.toLowerCase()}_${this.count}`;
    this.nodes.push({
      name: `${opType}_${this.count++}`,
      op_type: opType,
      input: inputs,
      output: [out],
      attribute: attrs,
    });
    return out;
  }

  floatInit(name: string, dims: number[], data: Float32Array): string {
    this.initializers.push(floatTensor(name, dims, data));
    this.initializerBytes += data.byteLength;
    return name;
  }

  int64Init(name: string, dims: number[], values: number[]): string {
    this.initializers.push(int64Tensor(name, dims, values));
    return name;
  }
}

const intAttr = (name: string, i: number): AttributeProto => ({ name, type: AttributeType.INT, i });
const floatAttr = (name: string, f: number): AttributeProto => ({ name, type: AttributeType.FLOAT, f });
const intsAttr = (name: string, ints: number[]): AttributeProto => ({ name, type: AttributeType.INTS, ints });

/** PyTorch's Linear weight is [out, in]; MatMul wants [in, out]. */
function transposed(t: NamedTensor): Float32Array {
  const [rows, cols] = t.shape;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = t.data[r * cols + c];
  return out;
}

/**
 * Protobuf's 2 GiB message limit (with room for the graph itself): a bigger student would need
 * ONNX's external-data layout, which this export does not write.
 */
export function assertFitsOneFile(initializerBytes: number): void {
  if (initializerBytes > MAX_ONNX_BYTES - (64 << 20)) {
    throw new UserError(
      `the student's weights take ${(initializerBytes / 2 ** 30).toFixed(2)} GiB; a single-file ONNX model is limited to 2 GiB`,
      {
        where: 'model.onnx',
        fix: 'export the Hugging Face folder (--format hf) and convert it with a tool that writes ONNX external data',
      },
    );
  }
}

export interface OnnxGraphOptions {
  /** Free text stored as the model's doc_string (e.g. where the weights came from). */
  docString?: string;
  producerVersion?: string;
}

/**
 * Builds the model. `tensors` are Hugging Face names in PyTorch orientation, as
 * BertModel.toNamedTensors returns them, and must include the classifier head.
 */
export function buildBertOnnx(config: BertConfig, tensors: NamedTensors, opts: OnnxGraphOptions = {}): ModelProto {
  const get = (name: string): NamedTensor => {
    const t = tensors.get(name);
    if (!t) {
      throw new UserError(`the model has no tensor "${name}", which the ONNX graph needs`, {
        where: 'model.onnx',
        fix: name.startsWith('classifier')
          ? "export a student with a classification head (a finished run's best/)"
          : 'export from a complete checkpoint',
      });
    }
    return t;
  };
  const g = new GraphBuilder();
  const h = config.hiddenSize;
  const heads = config.numAttentionHeads;
  const d = headDim(config);
  const eps = config.layerNormEps;

  const linear = (x: string, prefix: string, outName?: string): string => {
    const w = get(`${prefix}.weight`);
    const b = get(`${prefix}.bias`);
    const wName = g.floatInit(`${prefix}.weight_t`, [w.shape[1], w.shape[0]], transposed(w));
    const bName = g.floatInit(`${prefix}.bias`, b.shape, b.data);
    return g.node('Add', [g.node('MatMul', [x, wName]), bName], [], outName);
  };
  const layerNorm = (x: string, prefix: string): string => {
    const gamma = get(`${prefix}.weight`);
    const beta = get(`${prefix}.bias`);
    return g.node(
      'LayerNormalization',
      [
        x,
        g.floatInit(`${prefix}.weight`, gamma.shape, gamma.data),
        g.floatInit(`${prefix}.bias`, beta.shape, beta.data),
      ],
      [intAttr('axis', -1), floatAttr('epsilon', eps)],
    );
  };

  // Constants.
  const scalar = (name: string, v: number) => g.floatInit(name, [], Float32Array.of(v));
  const one = scalar('const_one', 1);
  const half = scalar('const_half', 0.5);
  const invSqrt2 = scalar('const_inv_sqrt2', Math.SQRT1_2);
  const maskValue = scalar('const_mask_value', MASK_VALUE);
  const scale = scalar('const_attention_scale', 1 / Math.sqrt(d));
  const splitHeads = g.int64Init('shape_split_heads', [4], [0, 0, heads, d]);
  const mergeHeads = g.int64Init('shape_merge_heads', [3], [0, 0, h]);
  const maskAxes = g.int64Init('axes_mask', [2], [1, 2]);
  const zeroStart = g.int64Init('slice_start_zero', [1], [0]);
  const axis0 = g.int64Init('slice_axis_zero', [1], [0]);
  const clsIndex = g.int64Init('index_cls', [], [0]);

  // Embeddings: word + token type + the first seq_len position rows (sliced by the input's shape,
  // so the sequence axis stays dynamic).
  const wordEmb = get('bert.embeddings.word_embeddings.weight');
  const posEmb = get('bert.embeddings.position_embeddings.weight');
  const typeEmb = get('bert.embeddings.token_type_embeddings.weight');
  const words = g.node(
    'Gather',
    [g.floatInit('bert.embeddings.word_embeddings.weight', wordEmb.shape, wordEmb.data), 'input_ids'],
    [intAttr('axis', 0)],
  );
  const types = g.node(
    'Gather',
    [g.floatInit('bert.embeddings.token_type_embeddings.weight', typeEmb.shape, typeEmb.data), 'token_type_ids'],
    [intAttr('axis', 0)],
  );
  const seqLen = g.node('Shape', ['input_ids'], [intAttr('start', 1), intAttr('end', 2)], 'sequence_length');
  const positions = g.node('Slice', [
    g.floatInit('bert.embeddings.position_embeddings.weight', posEmb.shape, posEmb.data),
    zeroStart,
    seqLen,
    axis0,
  ]);
  let x = layerNorm(g.node('Add', [g.node('Add', [words, types]), positions]), 'bert.embeddings.LayerNorm');

  // Mask bias [batch, 1, 1, seq]: 0 for real tokens, float32 min for padding.
  const maskF = g.node('Cast', ['attention_mask'], [intAttr('to', DataType.FLOAT)]);
  const maskBias = g.node(
    'Unsqueeze',
    [g.node('Mul', [g.node('Sub', [one, maskF]), maskValue]), maskAxes],
    [],
    'attention_bias',
  );

  for (let l = 0; l < config.numHiddenLayers; l++) {
    const p = `bert.encoder.layer.${l}`;
    const headsOf = (t: string, perm: number[]) =>
      g.node('Transpose', [g.node('Reshape', [t, splitHeads])], [intsAttr('perm', perm)]);
    const q = headsOf(linear(x, `${p}.attention.self.query`), [0, 2, 1, 3]); // [b, heads, s, d]
    const kT = headsOf(linear(x, `${p}.attention.self.key`), [0, 2, 3, 1]); // [b, heads, d, s]
    const v = headsOf(linear(x, `${p}.attention.self.value`), [0, 2, 1, 3]);
    const scores = g.node('Add', [g.node('Mul', [g.node('MatMul', [q, kT]), scale]), maskBias]);
    const probs = g.node('Softmax', [scores], [intAttr('axis', -1)], `attention_probs_${l}`);
    const ctx = g.node('Reshape', [
      g.node('Transpose', [g.node('MatMul', [probs, v])], [intsAttr('perm', [0, 2, 1, 3])]),
      mergeHeads,
    ]);
    const x1 = layerNorm(
      g.node('Add', [linear(ctx, `${p}.attention.output.dense`), x]),
      `${p}.attention.output.LayerNorm`,
    );
    const inter = linear(x1, `${p}.intermediate.dense`);
    // Exact GELU: 0.5 · x · (1 + erf(x / √2)).
    const gelu = g.node('Mul', [
      g.node('Mul', [inter, g.node('Add', [g.node('Erf', [g.node('Mul', [inter, invSqrt2])]), one])]),
      half,
    ]);
    x = layerNorm(g.node('Add', [linear(gelu, `${p}.output.dense`), x1]), `${p}.output.LayerNorm`);
  }

  const cls = g.node('Gather', [x, clsIndex], [intAttr('axis', 1)], 'cls_hidden');
  const pooled = g.node('Tanh', [linear(cls, 'bert.pooler.dense')], [], 'pooled');
  linear(pooled, 'classifier', ONNX_OUTPUT);

  assertFitsOneFile(g.initializerBytes);

  const dyn: Array<number | string> = ['batch', 'sequence'];
  return {
    ir_version: ONNX_IR_VERSION,
    opset_import: [{ domain: '', version: ONNX_OPSET }],
    producer_name: 'distillery',
    producer_version: opts.producerVersion ?? '0',
    doc_string: opts.docString ?? '',
    graph: {
      name: 'bert_for_sequence_classification',
      node: g.nodes,
      initializer: g.initializers,
      input: ONNX_INPUTS.map((n) => valueInfo(n, DataType.INT64, dyn)),
      output: [valueInfo(ONNX_OUTPUT, DataType.FLOAT, ['batch', config.numLabels])],
    },
    metadata_props: [
      { key: 'labels', value: JSON.stringify(config.labels) },
      { key: 'problem_type', value: config.problemType },
      { key: 'max_position_embeddings', value: String(config.maxPositionEmbeddings) },
    ],
  };
}
