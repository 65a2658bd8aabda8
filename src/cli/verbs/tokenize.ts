import * as readline from 'node:readline';
import { Verb } from '../verb';
import { WordPieceTokenizer } from '../../data/tokenizer';
import { UserError } from '../../util/errors';

export const tokenizeVerb: Verb = {
  name: 'tokenize',
  summary: 'tokenise lines from stdin (a tab separates a sentence pair) into JSON lines of tokens and ids',
  positionals: [],
  flags: [
    { name: 'vocab', type: 'string', value: 'FILE', description: 'a WordPiece vocab.txt' },
    { name: 'model', type: 'string', value: 'DIR', description: 'a BERT folder (uses its vocab.txt and tokenizer settings)' },
    { name: 'cased', type: 'boolean', description: 'keep case and accents (default: uncased, as bert-base-uncased)' },
    { name: 'max-len', type: 'number', value: 'N', description: 'truncate each encoding to N tokens (longest first)' },
  ],
  details: 'example: cut -f1 glue/SST-2/dev.tsv | distillery tokenize --vocab vocab.txt > dev.jsonl',
  async run(flags, io) {
    const vocab = flags.string('vocab');
    const modelDir = flags.string('model');
    if (!vocab === !modelDir) {
      throw new UserError('pass exactly one of --vocab FILE or --model DIR', { where: 'distillery tokenize' });
    }
    const opts = flags.bool('cased') ? { lowercase: false } : modelDir ? {} : { lowercase: true };
    const tok = vocab ? WordPieceTokenizer.fromVocabFile(vocab, opts) : WordPieceTokenizer.fromModelDir(modelDir as string, opts);
    const maxLen = flags.number('max-len');
    const rl = readline.createInterface({ input: io.stdin, crlfDelay: Infinity });
    // Buffer output: one write per few hundred lines keeps a whole GLUE file to seconds.
    let buf: string[] = [];
    const flush = async () => {
      if (!buf.length) return;
      const text = buf.join('');
      buf = [];
      if (!io.stdout.write(text)) await new Promise<void>((r) => io.stdout.once('drain', () => r()));
    };
    for await (const line of rl) {
      const tab = line.indexOf('\t');
      const a = tab >= 0 ? line.slice(0, tab) : line;
      const b = tab >= 0 ? line.slice(tab + 1) : undefined;
      const enc = tok.encode(a, b, maxLen);
      buf.push(JSON.stringify({ tokens: enc.tokens, inputIds: enc.inputIds, tokenTypeIds: enc.tokenTypeIds }) + '\n');
      if (buf.length >= 512) await flush();
    }
    await flush();
    return 0;
  },
};
