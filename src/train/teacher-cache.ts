/**
 * Teacher-output cache: the frozen teacher gives the same outputs for a training example every
 * epoch, so after the first time they are computed its logits, pooled vector, the [CLS] vectors
 * of the mapped layers and (optionally) their attention maps are kept per example, and later
 * epochs skip the teacher's forward pass for every example found here.
 *
 * Entries are stored unpadded (an example's own length), outside the wasm heap, and assembled into
 * the padded batch on the way out; padded attention entries are zero, which attention-kl masks
 * (0·log 0 := 0), so losses equal the uncached ones. float16 storage (attention maps only) halves
 * the memory at ~1e-3 relative rounding of the maps. The store is bounded: once `maxBytes` is
 * reached, new examples are computed every time (no eviction: with shuffled epochs any eviction
 * policy would only churn).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BertModel, BertOutputs } from '../model/bert';
import { disposeBertOutputs } from '../model/bert';
import type { Batch } from '../data/batching';
import { toBertInputs, disposeInputs } from '../model/inputs';
import { topRowsFor } from '../distill/objective';

export type CachePrecision = 'float32' | 'float16';

export interface TeacherCacheOptions {
  /** Upper bound on the bytes held (default 1 GiB). */
  maxBytes?: number;
  /** Storage of attention maps; logits and vectors are always float32. Default float32 (exact). */
  attentionPrecision?: CachePrecision;
}

export interface TeacherCacheStats {
  /** Examples served from the cache. */
  hits: number;
  /** Examples the teacher computed. */
  misses: number;
  /** Teacher forward passes run (one per batch with at least one miss). */
  teacherPasses: number;
  entries: number;
  bytes: number;
  maxBytes: number;
  /** Examples not stored because the bound was reached. */
  rejected: number;
}

/**
 * What the cache serves, as BertModel.forward's keep: [CLS] rows of hidden states (by hidden-state
 * index) and attention maps (by attention index). Never full hidden states, so its teacher passes
 * carry only the [CLS] rows through the top layer (topRows 'cls').
 */
export interface TeacherKeep {
  cls: readonly number[];
  attentions: readonly number[];
}

interface Entry {
  len: number;
  logits: Float32Array;
  pooled: Float32Array;
  /** [CLS] vector by hidden-state index. */
  cls: Map<number, Float32Array>;
  /** [heads, len, len] by attention index. */
  attentions: Map<number, Float32Array | Uint16Array>;
  bytes: number;
}

export const DEFAULT_TEACHER_CACHE_BYTES = 1024 ** 3;
const ENTRY_OVERHEAD_BYTES = 256;

// ---- float16 <-> float32 (IEEE 754 binary16, round to nearest even) ----

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function toHalf(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → Inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow → ±0
    mant |= 0x800000; // subnormal half: shift the implicit bit in, round to nearest even
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let h = mant >>> shift;
    if (rest > half || (rest === half && h & 1)) h++;
    return sign | h;
  }
  let h = sign | (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++; // may carry into the exponent: correct
  return h;
}

export function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

let halfTable: Float32Array | undefined;

/** out[at + i] = the float of half h[i], by a 65 536-entry table (built once, 256 KB). */
function halfToFloat(h: Uint16Array, out: Float32Array, at: number): void {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) halfTable[i] = fromHalf(i);
  }
  const t = halfTable;
  for (let i = 0; i < h.length; i++) out[at + i] = t[h[i]];
}

/** The rows of a padded batch, each cut to its own length (a new batch padded to their longest). */
export function subBatch(batch: Batch, rows: readonly number[], padId: number): Batch {
  const lens = rows.map((r) => rowLength(batch, r));
  const seqLen = Math.max(1, ...lens);
  const size = rows.length;
  const inputIds = new Int32Array(size * seqLen).fill(padId);
  const tokenTypeIds = new Int32Array(size * seqLen);
  const attentionMask = new Int32Array(size * seqLen);
  rows.forEach((r, i) => {
    const src = r * batch.seqLen;
    inputIds.set(batch.inputIds.subarray(src, src + lens[i]), i * seqLen);
    tokenTypeIds.set(batch.tokenTypeIds.subarray(src, src + lens[i]), i * seqLen);
    attentionMask.fill(1, i * seqLen, i * seqLen + lens[i]);
  });
  return {
    size,
    seqLen,
    inputIds,
    tokenTypeIds,
    attentionMask,
    labels: Float32Array.from(rows, (r) => batch.labels[r]),
    indices: rows.map((r) => batch.indices[r]),
  };
}

/** Tokens in a row: makeBatch puts them first, padding after. */
function rowLength(batch: Batch, row: number): number {
  let n = 0;
  const off = row * batch.seqLen;
  for (let j = 0; j < batch.seqLen; j++) n += batch.attentionMask[off + j] ? 1 : 0;
  return n;
}

export class TeacherCache {
  private readonly entries = new Map<number, Entry>();
  private readonly maxBytes: number;
  private readonly precision: CachePrecision;
  private bytes = 0;
  private counts = { hits: 0, misses: 0, teacherPasses: 0, rejected: 0 };
  /**
   * Staging buffers for the assembled attention maps, reused from step to step on wasm, where
   * creating a tensor copies its values into the heap (a fresh 8 MB array per map per step was
   * zero-filled and collected every time). The cpu backend keeps the array it is given: fresh
   * ones there.
   */
  private readonly staging = new Map<number, Float32Array>();

  constructor(opts: TeacherCacheOptions = {}) {
    this.maxBytes = opts.maxBytes ?? DEFAULT_TEACHER_CACHE_BYTES;
    this.precision = opts.attentionPrecision ?? 'float32';
    if (!(this.maxBytes >= 0)) throw new RangeError(`TeacherCache: maxBytes must be ≥ 0, got ${this.maxBytes}`);
  }

  /**
   * The teacher's outputs for `batch` (eval mode, no dropout), keeping what `keep` asks for. Rows
   * whose example is cached with everything `keep` needs come from the cache; the others are
   * computed by one teacher pass over just those rows (or the whole batch as given, when none
   * hit) and stored while the bound allows. The caller owns (disposes) the returned tensors.
   * Assembled outputs hold [CLS] rows (`cls`, [batch, hidden]) and no full hidden states.
   */
  outputs(teacher: BertModel, batch: Batch, keep: TeacherKeep, padId: number): BertOutputs {
    const found: Array<Entry | undefined> = batch.indices.map((ex) => {
      const e = this.entries.get(ex);
      return e && covers(e, keep) ? e : undefined;
    });
    const missing = found.flatMap((e, r) => (e ? [] : [r]));
    this.counts.hits += batch.size - missing.length;
    this.counts.misses += missing.length;
    if (missing.length === batch.size) {
      // Nothing cached: run the teacher on the batch exactly as the uncached trainer would.
      const out = this.forward(teacher, batch, keep);
      const fresh = this.extract(out, batch, keep);
      fresh.forEach((e, r) => this.store(batch.indices[r], e));
      return out;
    }
    if (missing.length > 0) {
      const sub = subBatch(batch, missing, padId);
      const out = this.forward(teacher, sub, keep);
      const fresh = this.extract(out, sub, keep);
      disposeBertOutputs(out);
      missing.forEach((r, i) => {
        found[r] = fresh[i];
        this.store(batch.indices[r], fresh[i]);
      });
    }
    return this.assemble(found as Entry[], batch, keep);
  }

  stats(): TeacherCacheStats {
    return { ...this.counts, entries: this.entries.size, bytes: this.bytes, maxBytes: this.maxBytes };
  }

  clear(): void {
    this.entries.clear();
    this.staging.clear();
    this.bytes = 0;
  }

  private forward(teacher: BertModel, batch: Batch, keep: TeacherKeep): BertOutputs {
    this.counts.teacherPasses++;
    const inputs = toBertInputs(batch);
    try {
      return teacher.forward(inputs, {
        training: false,
        keep: { hiddenStates: [], cls: [...keep.cls], attentions: [...keep.attentions] },
        topRows: topRowsFor({ hiddenStates: [] }, teacher.config.numHiddenLayers),
      });
    } finally {
      disposeInputs(inputs);
    }
  }

  /** Per-row entries (unpadded copies) from a forward pass over `batch`. */
  private extract(out: BertOutputs, batch: Batch, keep: TeacherKeep): Entry[] {
    const b = batch.size;
    const s = batch.seqLen;
    const logits = out.logits.dataSync() as Float32Array;
    const pooled = out.pooled.dataSync() as Float32Array;
    const labels = out.logits.shape[1];
    const h = out.pooled.shape[1];
    const cls = new Map<number, Float32Array>();
    for (const k of keep.cls) cls.set(k, out.cls[k].dataSync() as Float32Array);
    const maps = new Map<number, Float32Array>();
    for (const k of keep.attentions) maps.set(k, out.attentions[k].dataSync() as Float32Array);
    const heads = keep.attentions.length ? out.attentions[keep.attentions[0]].shape[1] : 0;
    const entries: Entry[] = [];
    for (let r = 0; r < b; r++) {
      const len = rowLength(batch, r);
      const e: Entry = {
        len,
        logits: logits.slice(r * labels, (r + 1) * labels),
        pooled: pooled.slice(r * h, (r + 1) * h),
        cls: new Map(),
        attentions: new Map(),
        bytes: ENTRY_OVERHEAD_BYTES,
      };
      for (const [k, v] of cls) e.cls.set(k, v.slice(r * h, (r + 1) * h));
      for (const [k, all] of maps) {
        let m: Float32Array;
        if (len === s) {
          m = all.slice(r * heads * s * s, (r + 1) * heads * s * s); // one contiguous block
        } else {
          m = new Float32Array(heads * len * len);
          for (let hd = 0; hd < heads; hd++) {
            for (let q = 0; q < len; q++) {
              const src = ((r * heads + hd) * s + q) * s;
              m.set(all.subarray(src, src + len), (hd * len + q) * len);
            }
          }
        }
        e.attentions.set(k, this.precision === 'float16' ? Uint16Array.from(m, toHalf) : m);
      }
      e.bytes += e.logits.byteLength + e.pooled.byteLength;
      for (const v of e.cls.values()) e.bytes += v.byteLength;
      for (const v of e.attentions.values()) e.bytes += v.byteLength;
      entries.push(e);
    }
    return entries;
  }

  private store(example: number, e: Entry): void {
    const old = this.entries.get(example);
    const delta = e.bytes - (old?.bytes ?? 0);
    if (this.bytes + delta > this.maxBytes) {
      this.counts.rejected++;
      return;
    }
    this.entries.set(example, e);
    this.bytes += delta;
  }

  /** A buffer of `size` values for map `k`: reused on wasm (see `staging`), else fresh. */
  private stagingBuffer(k: number, size: number): Float32Array {
    if (tf.getBackend() !== 'wasm') return new Float32Array(size);
    const buf = this.staging.get(k);
    if (buf && buf.length === size) return buf;
    const fresh = new Float32Array(size);
    this.staging.set(k, fresh);
    return fresh;
  }

  /** Padded batch tensors from per-row entries (attention padding is zero). */
  private assemble(rows: Entry[], batch: Batch, keep: TeacherKeep): BertOutputs {
    const b = batch.size;
    const s = batch.seqLen;
    const labels = rows[0].logits.length;
    const h = rows[0].pooled.length;
    const logits = new Float32Array(b * labels);
    const pooled = new Float32Array(b * h);
    rows.forEach((e, r) => {
      logits.set(e.logits, r * labels);
      pooled.set(e.pooled, r * h);
    });
    const cls: tf.Tensor2D[] = [];
    for (const k of keep.cls) {
      const v = new Float32Array(b * h);
      rows.forEach((e, r) => v.set(e.cls.get(k)!, r * h));
      cls[k] = tf.tensor2d(v, [b, h]);
    }
    const attentions: tf.Tensor4D[] = [];
    for (const k of keep.attentions) {
      const first = rows[0].attentions.get(k)!;
      const heads = first.length / (rows[0].len * rows[0].len);
      const v = this.stagingBuffer(k, b * heads * s * s);
      rows.forEach((e, r) => {
        const m = e.attentions.get(k)!;
        const len = e.len;
        if (len < s) v.fill(0, r * heads * s * s, (r + 1) * heads * s * s); // padding is zero
        if (len === s) {
          // A row as long as the batch: its maps are one contiguous block.
          const at = r * heads * s * s;
          if (m instanceof Float32Array) v.set(m, at);
          else halfToFloat(m, v, at);
          return;
        }
        for (let hd = 0; hd < heads; hd++) {
          for (let q = 0; q < len; q++) {
            const dst = ((r * heads + hd) * s + q) * s;
            const src = (hd * len + q) * len;
            if (m instanceof Float32Array) v.set(m.subarray(src, src + len), dst);
            else halfToFloat(m.subarray(src, src + len), v, dst);
          }
        }
      });
      attentions[k] = tf.tensor4d(v, [b, heads, s, s]);
    }
    return {
      logits: tf.tensor2d(logits, [b, labels]),
      pooled: tf.tensor2d(pooled, [b, h]),
      hiddenStates: [],
      attentions,
      cls,
    };
  }
}

function covers(e: Entry, keep: TeacherKeep): boolean {
  return keep.cls.every((k) => e.cls.has(k)) && keep.attentions.every((k) => e.attentions.has(k));
}
