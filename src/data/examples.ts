/** A labelled (or unlabelled) text example as read from a data file, before tokenisation. */
export interface Example {
  /** 0-based position among the file's data rows (file order). */
  index: number;
  /** 1-based line in the file where the row starts (the header, when there is one, is line 1). */
  line: number;
  textA: string;
  textB?: string;
  /** Class id, or the float score for regression; null in unlabelled (test) splits. */
  label: number | null;
}

/** All examples of one split of one task, with what is needed to interpret their labels. */
export interface Dataset {
  task: string;
  split: string;
  /** The file the examples were read from. */
  file: string;
  examples: Example[];
  /** Class names in id order; empty for regression. */
  labels: string[];
  isRegression: boolean;
}
