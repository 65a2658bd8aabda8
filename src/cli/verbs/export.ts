import { Verb, JSON_FLAG, BACKEND_FLAG } from '../verb';
import { writeJson, writeLine } from '../io';
import { parseBackendFlag } from '../model-session';
import { initBackend } from '../../model/backend';
import { exportStudent } from '../../train/export';

export const exportVerb: Verb = {
  name: 'export',
  summary: 'write a run\'s best student in the Hugging Face layout and check it reads back with the same logits',
  positionals: [{ name: 'runDir', description: 'a run folder (runs/<id>)' }],
  flags: [{ name: 'out', type: 'string', value: 'DIR', description: 'where to write it (default runs/<id>/student)' }, JSON_FLAG, BACKEND_FLAG],
  details: 'The folder has the layout and tensor names of BertForSequenceClassification.save_pretrained(DIR).',
  async run(flags, io) {
    const backend = await initBackend(parseBackendFlag(flags.string('backend')));
    const r = await exportStudent(flags.positionals[0], { out: flags.string('out') });
    if (flags.bool('json')) await writeJson(io, { ...r, backend: backend.kind });
    else {
      writeLine(io.stdout, `exported ${r.parameters.toLocaleString('en-US')} parameters from ${r.source}`);
      writeLine(io.stdout, `to ${r.dir} (config.json, model.safetensors, vocab.txt)`);
      writeLine(io.stdout, `read back: max |logit difference| ${r.maxLogitDiff} (backend ${backend.kind})`);
    }
    return 0;
  },
};
