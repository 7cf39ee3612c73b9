/**
 * @module Ids as Parley issues them: 22 base64url characters from the CSPRNG, never starting with
 * `-`, so every id can be passed to the CLI as an argument without being taken for an option.
 */
import { describe, expect, it } from 'vitest'
import { isWellFormedId, newId } from '../../src/core/token.ts'

describe('newId', () => {
  it('SEC-01: 22 base64url characters, all distinct over 20,000 draws, none starting with "-" (a CLI option)', () => {
    const ids = Array.from({ length: 20_000 }, newId)
    for (const id of ids) {
      expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/)
      expect(isWellFormedId(id)).toBe(true)
    }
    expect(new Set(ids).size).toBe(ids.length)
  })
})
