/**
 * Finds the Hugging Face BERT folder inside a model folder as it was downloaded. A
 * sentence-transformers model is a root with modules.json listing its modules; the BERT itself
 * (config.json, model.safetensors, vocab.txt) is either in that root or in a subfolder such as
 * `0_Transformer/`. Everything that opens a model folder (loader, tokenizer, validation) goes
 * through here, so a config can name the root that a package or `git clone` gave.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../util/errors';

export interface ModelFolder {
  /** The folder that holds config.json (the given one, or its transformer module's subfolder). */
  dir: string;
  /** Set when `dir` differs from the folder given: what was followed, for a note. */
  note?: string;
}

const MODULES_FILE = 'modules.json';
/** sentence-transformers' module types that wrap a Hugging Face encoder (`models.BERT` is the pre-2.0 name). */
const ENCODER_MODULE = /(^|\.)models\.(Transformer|BERT)$/;
/** Subfolders older sentence-transformers versions saved the encoder into. */
const KNOWN_SUBFOLDERS = ['0_Transformer', '0_BERT'];

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

interface ModuleEntry {
  path: string;
  type: string;
}

/** The entries of modules.json; a file that is not a list of {path, type} is an error naming it. */
function readModules(file: string): ModuleEntry[] {
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UserError(`${MODULES_FILE} cannot be read as JSON (${(e as Error).message})`, {
      where: file,
      fix: 'copy the model folder again, or point at the subfolder that holds config.json',
    });
  }
  if (!Array.isArray(json)) {
    throw new UserError(`${MODULES_FILE} must be a list of modules`, {
      where: file,
      fix: 'point at the subfolder that holds config.json',
    });
  }
  const out: ModuleEntry[] = [];
  for (const m of json) {
    const o = m as { path?: unknown; type?: unknown } | null;
    if (o && typeof o.path === 'string' && typeof o.type === 'string') out.push({ path: o.path, type: o.type });
  }
  return out;
}

/**
 * `dir` itself when it holds config.json (a plain Hugging Face folder, or a sentence-transformers
 * root with the model in it); else the encoder module's folder named by modules.json, or a known
 * subfolder. A folder that has none of these is returned unchanged, so that the caller's own
 * "no config.json" message names it.
 */
export function resolveModelFolder(dir: string): ModelFolder {
  if (isFile(path.join(dir, 'config.json'))) return { dir };
  const modulesFile = path.join(dir, MODULES_FILE);
  if (isFile(modulesFile)) {
    const modules = readModules(modulesFile);
    const encoder = modules.find((m) => ENCODER_MODULE.test(m.type));
    if (!encoder) {
      throw new UserError(
        `${MODULES_FILE} lists no Transformer module (types: ${modules.map((m) => m.type).join(', ') || 'none'}), so there is no BERT encoder to load`,
        {
          where: modulesFile,
          fix: 'point at a sentence-transformers model whose first module is sentence_transformers.models.Transformer, or at a Hugging Face folder with config.json',
        },
      );
    }
    const sub = path.resolve(dir, encoder.path);
    if (path.relative(path.resolve(dir), sub).startsWith('..')) {
      throw new UserError(
        `${MODULES_FILE} places the Transformer module at "${encoder.path}", outside the model folder`,
        { where: modulesFile },
      );
    }
    if (!isFile(path.join(sub, 'config.json'))) {
      throw new UserError(
        `${MODULES_FILE} places the Transformer module in "${encoder.path || '.'}", but that folder has no config.json`,
        {
          where: modulesFile,
          fix: 'the model folder is incomplete; copy it again (with its Transformer subfolder)',
        },
      );
    }
    return {
      dir: sub,
      note: `sentence-transformers model: read the BERT encoder from ${encoder.path}/ (${MODULES_FILE})`,
    };
  }
  for (const name of KNOWN_SUBFOLDERS) {
    const sub = path.join(dir, name);
    if (isFile(path.join(sub, 'config.json')))
      return { dir: sub, note: `sentence-transformers model: read the BERT encoder from ${name}/` };
  }
  return { dir };
}
