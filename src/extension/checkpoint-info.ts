/** Small facts about a Hugging Face BERT folder, read from its config.json without loading weights. */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The depth of a Hugging Face BERT folder, from its config.json (num_hidden_layers, default 12). */
export function readCheckpointLayers(dir: string): number | undefined {
  try {
    const json: unknown = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    if (!json || typeof json !== 'object' || Array.isArray(json)) return undefined;
    const n = (json as Record<string, unknown>).num_hidden_layers;
    return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : 12;
  } catch {
    return undefined;
  }
}
