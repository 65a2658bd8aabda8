/**
 * A chart's data, or a heatmap's matrix, as CSV (RFC 4180: CRLF line ends, fields quoted when they
 * hold a comma, quote or line break, quotes doubled). Missing and non-finite values are empty
 * cells, which spreadsheets and pandas read as missing. Pure; no DOM.
 */

/** One field, quoted only when it has to be. */
export function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** A number at full precision (String keeps the shortest exact form); NaN, ±Infinity, null → empty. */
export function csvNumber(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '' : String(v);
}

function line(fields: readonly string[]): string {
  return `${fields.join(',')}\r\n`;
}

export interface CsvSeries {
  label: string;
  y: ArrayLike<number | null | undefined>;
}

/** `xName, series…` header, then one row per x value (the first `length` of `x`). */
export function chartCsv(xName: string, x: ArrayLike<number>, length: number, series: readonly CsvSeries[]): string {
  const rows: string[] = [line([xName, ...series.map((s) => s.label)].map(csvField))];
  for (let i = 0; i < length; i++) {
    const fields = [csvNumber(x[i])];
    for (const s of series) fields.push(csvNumber(i < s.y.length ? s.y[i] : undefined));
    rows.push(line(fields));
  }
  return rows.join('');
}

/**
 * A matrix with row and column labels: the corner cell names the two axes, then the column labels;
 * each row starts with its label. Labels may repeat (a sentence's tokens do).
 */
export function matrixCsv(
  corner: string,
  rowLabels: readonly string[],
  colLabels: readonly string[],
  values: readonly (ArrayLike<number> | undefined)[],
): string {
  const rows: string[] = [line([corner, ...colLabels].map(csvField))];
  rowLabels.forEach((label, q) => {
    const row = values[q];
    rows.push(
      line([csvField(label), ...colLabels.map((_, k) => csvNumber(row && k < row.length ? row[k] : undefined))]),
    );
  });
  return rows.join('');
}
