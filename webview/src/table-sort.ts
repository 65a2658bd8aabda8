/**
 * Sorting the compare table by any column: a header click sorts ascending, a second click on the
 * same header descending. Numbers compare numerically (so 1e-4 < 5e-4 < 0.001, unlike their text),
 * text naturally ("layer 2" < "layer 10"); an empty cell sorts last in both directions, so the
 * runs that have a value stay on top. Pure; no DOM.
 */

export type SortValue = number | string | boolean | null | undefined;
export type SortDirection = 'asc' | 'desc';

export interface SortState {
  column: string;
  dir: SortDirection;
}

/** The state after a click on `column`'s header. */
export function nextSort(current: SortState | undefined, column: string): SortState {
  if (current?.column === column) return { column, dir: current.dir === 'asc' ? 'desc' : 'asc' };
  return { column, dir: 'asc' };
}

function isEmpty(v: SortValue): v is null | undefined {
  return v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v));
}

/** Kind order among present values: numbers, then booleans, then text. */
function rank(v: number | string | boolean): number {
  return typeof v === 'number' ? 0 : typeof v === 'boolean' ? 1 : 2;
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

/** Ascending order of two present values. */
export function compareSortValues(a: number | string | boolean, b: number | string | boolean): number {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (typeof a === 'number' && typeof b === 'number') return a === b ? 0 : a < b ? -1 : 1;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  return collator.compare(String(a), String(b));
}

/** The rows in sorted order (a stable sort: ties keep their order); empty values last either way. */
export function sortRows<T>(rows: readonly T[], value: (row: T) => SortValue, dir: SortDirection): T[] {
  const keyed = rows.map((row, i) => ({ row, i, v: value(row) }));
  keyed.sort((x, y) => {
    const ex = isEmpty(x.v);
    const ey = isEmpty(y.v);
    if (ex || ey) return ex === ey ? x.i - y.i : ex ? 1 : -1;
    const c = compareSortValues(x.v as number | string | boolean, y.v as number | string | boolean);
    return c !== 0 ? (dir === 'asc' ? c : -c) : x.i - y.i;
  });
  return keyed.map((k) => k.row);
}

/** The aria-sort value of a header. */
export function ariaSort(state: SortState | undefined, column: string): 'ascending' | 'descending' | 'none' {
  return state?.column !== column ? 'none' : state.dir === 'asc' ? 'ascending' : 'descending';
}
