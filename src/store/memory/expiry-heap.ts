/** @module A binary min-heap of (expiry, id) with lazy deletion: sweeping costs what expired. */

export interface ExpiryEntry {
  at: number
  id: string
}

export class ExpiryHeap {
  #items: ExpiryEntry[] = []

  get size(): number {
    return this.#items.length
  }

  push(id: string, at: number): void {
    const items = this.#items
    items.push({ at, id })
    let i = items.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (items[parent]!.at <= items[i]!.at) break
      ;[items[parent], items[i]] = [items[i]!, items[parent]!]
      i = parent
    }
  }

  /** Removes and returns the earliest entry when it is due at `now`, else undefined. */
  popDue(now: number): ExpiryEntry | undefined {
    const items = this.#items
    const top = items[0]
    if (top === undefined || top.at > now) return undefined
    const last = items.pop()!
    if (items.length > 0) {
      items[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < items.length && items[l]!.at < items[m]!.at) m = l
        if (r < items.length && items[r]!.at < items[m]!.at) m = r
        if (m === i) break
        ;[items[m], items[i]] = [items[i]!, items[m]!]
        i = m
      }
    }
    return top
  }
}
