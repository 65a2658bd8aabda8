/**
 * Rewrites a Hugging Face checkpoint in the layouts real pre-trained models come in: a
 * sentence-transformers root (modules.json, the model in the root or in 0_Transformer/), tensor
 * names under wrapper prefixes (`model.`, `0.auto_model.`, `module.`), TF-style gamma/beta, an int64
 * `position_ids` buffer, no pooler. Written in TS (F32 and I64 safetensors), so no Python is needed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readSafetensorsFile, toFloat32 } from '../../src/model/safetensors';

export interface RawEntry {
  dtype: 'F32' | 'I64';
  shape: number[];
  bytes: Uint8Array;
}

/** A safetensors file with F32 and I64 entries (the library's writer only writes F32). */
export function writeRawSafetensors(file: string, entries: Map<string, RawEntry>): void {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  const names = [...entries.keys()].sort();
  for (const n of names) {
    const e = entries.get(n)!;
    header[n] = { dtype: e.dtype, shape: e.shape, data_offsets: [offset, offset + e.bytes.length] };
    offset += e.bytes.length;
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8 !== 0) json += ' ';
  const head = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(head.length));
  fs.writeFileSync(file, Buffer.concat([len, head, ...names.map((n) => Buffer.from(entries.get(n)!.bytes))]));
}

export interface VariantOptions {
  /** New name for each tensor of the source; null drops it. */
  rename?: (name: string) => string | null;
  /** Adds `<prefix>embeddings.position_ids`, an int64 [1, maxPositions] buffer as older transformers saved it. */
  positionIdsPrefix?: string;
  maxPositions?: number;
  /**
   * 'plain': a Hugging Face folder. 'st-root': a sentence-transformers root with the model in it.
   * 'st-subfolder': a root whose model is in 0_Transformer/ (older sentence-transformers).
   * 'st-subfolder-unlisted': the same without modules.json.
   */
  layout?: 'plain' | 'st-root' | 'st-subfolder' | 'st-subfolder-unlisted';
}

const POOLING_CONFIG = { word_embedding_dimension: 32, pooling_mode_cls_token: false, pooling_mode_mean_tokens: true };

/** Copies the checkpoint in `src` to `dest` in the asked layout; returns the folder that holds config.json. */
export function writeVariant(src: string, dest: string, o: VariantOptions = {}): string {
  const layout = o.layout ?? 'plain';
  const modelDir =
    layout === 'st-subfolder' || layout === 'st-subfolder-unlisted' ? path.join(dest, '0_Transformer') : dest;
  fs.mkdirSync(modelDir, { recursive: true });
  for (const f of fs.readdirSync(src)) {
    if (f !== 'model.safetensors') fs.copyFileSync(path.join(src, f), path.join(modelDir, f));
  }
  const st = readSafetensorsFile(path.join(src, 'model.safetensors'));
  const out = new Map<string, RawEntry>();
  for (const [name, entry] of st.entries) {
    const to = o.rename ? o.rename(name) : name;
    if (to === null) continue;
    const data = toFloat32(entry, src);
    out.set(to, {
      dtype: 'F32',
      shape: [...entry.shape],
      bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    });
  }
  if (o.positionIdsPrefix !== undefined) {
    const p = o.maxPositions ?? 64;
    const ids = new BigInt64Array(p);
    for (let i = 0; i < p; i++) ids[i] = BigInt(i);
    out.set(`${o.positionIdsPrefix}embeddings.position_ids`, {
      dtype: 'I64',
      shape: [1, p],
      bytes: new Uint8Array(ids.buffer),
    });
  }
  writeRawSafetensors(path.join(modelDir, 'model.safetensors'), out);
  if (layout !== 'plain') {
    fs.mkdirSync(path.join(dest, '1_Pooling'), { recursive: true });
    fs.writeFileSync(path.join(dest, '1_Pooling', 'config.json'), JSON.stringify(POOLING_CONFIG) + '\n');
  }
  if (layout === 'st-root' || layout === 'st-subfolder') {
    const transformerPath = layout === 'st-root' ? '' : '0_Transformer';
    fs.writeFileSync(
      path.join(dest, 'modules.json'),
      JSON.stringify(
        [
          { idx: 0, name: '0', path: transformerPath, type: 'sentence_transformers.models.Transformer' },
          { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
        ],
        null,
        2,
      ) + '\n',
    );
    fs.writeFileSync(
      path.join(dest, 'config_sentence_transformers.json'),
      '{"__version__": {"sentence_transformers": "2.0.0"}}\n',
    );
  }
  return modelDir;
}
