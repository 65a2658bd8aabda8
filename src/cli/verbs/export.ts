import { Verb, JSON_FLAG, BACKEND_FLAG } from '../verb';
import { writeJson, writeLine } from '../io';
import { parseBackendFlag } from '../model-session';
import { initBackend } from '../../model/backend';
import { EXPORT_FORMATS, ExportFormat, exportStudent } from '../../train/export';
import { UserError } from '../../util/errors';

export const exportVerb: Verb = {
  name: 'export',
  summary:
    "write a run's best student as a Hugging Face folder and/or ONNX, and check each gives the trained model's logits",
  positionals: [{ name: 'runDir', description: 'a run folder (runs/<id>)' }],
  flags: [
    {
      name: 'out',
      type: 'string',
      value: 'DIR',
      description: 'where to write it (default runs/<id>/student, or runs/<id>/student-onnx for --format onnx)',
    },
    {
      name: 'format',
      type: 'string',
      value: 'FMT',
      description: 'hf (default), onnx, or both (model.onnx beside the HF files)',
    },
    JSON_FLAG,
    BACKEND_FLAG,
  ],
  details: [
    'hf: the layout and tensor names of BertForSequenceClassification.save_pretrained(DIR).',
    'onnx: model.onnx (opset 17; inputs input_ids, attention_mask, token_type_ids as int64 [batch, sequence]; output logits)',
    'with config.json and the tokenizer files. It is run with onnxruntime-node (an optional package) on a probe batch and',
    'must match the TF.js logits, or the command fails and writes no model.onnx. Without onnxruntime-node it is written unchecked.',
  ].join('\n'),
  async run(flags, io) {
    const formatFlag = flags.string('format') ?? 'hf';
    if (!(EXPORT_FORMATS as readonly string[]).includes(formatFlag)) {
      throw new UserError(`unknown format ${JSON.stringify(formatFlag)}`, {
        where: '--format',
        fix: `use one of ${EXPORT_FORMATS.join(', ')}`,
      });
    }
    const format = formatFlag as ExportFormat;
    const backend = await initBackend(parseBackendFlag(flags.string('backend')));
    const r = await exportStudent(flags.positionals[0], { out: flags.string('out'), format });
    if (flags.bool('json')) await writeJson(io, { ...r, backend: backend.kind });
    else {
      writeLine(io.stdout, `exported ${r.parameters.toLocaleString('en-US')} parameters from ${r.source}`);
      if (format !== 'onnx') {
        writeLine(io.stdout, `to ${r.dir} (config.json, model.safetensors, vocab.txt)`);
        writeLine(io.stdout, `read back: max |logit difference| ${r.maxLogitDiff} (backend ${backend.kind})`);
      }
      const o = r.onnx;
      if (o) {
        writeLine(io.stdout, `ONNX: ${o.file} (${(o.bytes / 2 ** 20).toFixed(1)} MiB, opset ${o.opset})`);
        if (o.verified)
          writeLine(
            io.stdout,
            `ONNX check: ${o.onnxRuntime} against TF.js, max |logit difference| ${o.maxLogitDiff} (tolerance ${o.tolerance?.toExponential(1)})`,
          );
        else writeLine(io.stdout, `ONNX check: skipped — ${o.note}`);
      }
    }
    if (r.onnx && !r.onnx.verified) writeLine(io.stderr, `note: ${r.onnx.note}`);
    return 0;
  },
};
