/** @module A shared empty list: the initial value of lists that most sessions never fill. */

/** Frozen: whoever fills a list replaces it first (`isNone`), so it is never written to. */
const EMPTY: readonly never[] = Object.freeze([])

/** The shared empty list, typed as the list it stands for (no allocation per session). */
export function none<T>(): T[] {
  return EMPTY as unknown as T[]
}

/** Whether `list` is the shared empty list (replace it before adding to it). */
export function isNone(list: readonly unknown[]): boolean {
  return list === EMPTY
}
