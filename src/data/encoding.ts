/** One tokenised example: `[CLS] a [SEP]` or `[CLS] a [SEP] b [SEP]`, unpadded. */
export interface Encoding {
  tokens: string[];
  inputIds: number[];
  /** 0 for the first segment (with [CLS] and its [SEP]), 1 for the second. */
  tokenTypeIds: number[];
}
