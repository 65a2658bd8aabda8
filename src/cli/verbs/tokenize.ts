import * as readline from 'node:readline';
import { Verb } from '../verb';
import { WordPieceTokenizer } from '../../data/tokenizer';
import { resolveModelFolder } from '../../model/model-folder';
import { UserError } from '../../util/errors';

export const tokenizeVerb: Verb = {
  name: 'tokenize',
  summary: 'tokenise lines from stdin (a tab separates a sentence pair) into JSON lines of tokens and ids',
  positionals: [],
  flags: [
    { name: 'vocab', type: 'string', value: 'FILE', description: 'a WordPiece vocab.txt' },
    {
      name: 'model',
      type: 'string',
      value: 'DIR',
      description: 'a BERT folder (uses its vocab.txt and tokenizer settings)',
    },
    { name: 'cased', type: 'boolean', description: 'keep case and accents (default: uncased, as bert-base-uncased)' },
    { name: 'max-len', type: 'number', value: 'N', description: 'truncate each encoding to N tokens (longest first)' },
  ],
  details: 'example: cut -f1 glue/SST-2/dev.tsv | distillery tokenize --vocab vocab.txt > dev.jsonl',
  async run(flags, io) {
    const vocab = flags.string('vocab');
    const modelDir = flags.string('model');
    if (!vocab === !modelDir) {
      throw new UserError(vocab ? '--vocab and --model both name a vocabulary' : 'no vocabulary given', {
        fix: 'pass exactly one of --vocab FILE or --model DIR',
      });
    }
    // Two tokens are [CLS] and [SEP]; a pair line needs one more, checked per line below.
    const maxLen = flags.integer('max-len', 2);
    // --cased / --no-cased win; otherwise a model folder's tokenizer_config.json decides.
    const opts = flags.has('cased') ? { lowercase: !flags.bool('cased') } : modelDir ? {} : { lowercase: true };
    const tok = vocab
      ? WordPieceTokenizer.fromVocabFile(vocab, opts)
      : WordPieceTokenizer.fromModelDir(resolveModelFolder(modelDir as string).dir, opts);
    const rl = readline.createInterface({ input: io.stdin, crlfDelay: Infinity });
    // A reader that stops early (`| head`) closes the pipe: stop reading and end quietly, as Unix
    // tools do, instead of dying of an unhandled EPIPE. The listener stays: a write already queued
    // can still report the closed pipe after the loop ends.
    let outputError: NodeJS.ErrnoException | undefined;
    let wakeWriter: (() => void) | undefined;
    io.stdout.on('error', (e: NodeJS.ErrnoException) => {
      outputError ??= e;
      rl.close();
      wakeWriter?.();
    });
    // Buffer output: one write per few hundred lines keeps a whole GLUE file to seconds.
    let buf: string[] = [];
    const flush = async () => {
      const text = buf.join('');
      buf = [];
      if (!text || outputError) return;
      if (!io.stdout.write(text)) {
        await new Promise<void>((r) => {
          wakeWriter = r;
          io.stdout.once('drain', () => r());
        });
        wakeWriter = undefined;
      }
    };
    const typing = (io.stdin as { isTTY?: boolean }).isTTY === true;
    let lineNo = 0;
    for await (const line of rl) {
      if (outputError) break;
      lineNo++;
      const tab = line.indexOf('\t');
      const a = tab >= 0 ? line.slice(0, tab) : line;
      const b = tab >= 0 ? line.slice(tab + 1) : undefined;
      if (b !== undefined && maxLen !== undefined && maxLen < 3) {
        await flush();
        rl.close();
        throw new UserError(`a sentence pair needs --max-len of at least 3 (got ${maxLen})`, {
          where: `stdin:${lineNo}`,
          fix: 'raise --max-len, or remove the tab to tokenise the line as one sentence',
        });
      }
      const enc = tok.encode(a, b, maxLen);
      buf.push(JSON.stringify({ tokens: enc.tokens, inputIds: enc.inputIds, tokenTypeIds: enc.tokenTypeIds }) + '\n');
      // Someone typing at a terminal sees each line's result at once; pipes get it in batches.
      if (buf.length >= 512 || typing) await flush();
    }
    await flush();
    if (outputError && outputError.code !== 'EPIPE') throw outputError;
    return 0;
  },
};
