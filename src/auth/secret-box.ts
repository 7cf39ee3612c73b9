/** @module SecretBox: AES-256-GCM for small secrets at rest (TOTP), keyed by HKDF from the server secret. */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'
import { ParleyError } from '../core/errors.ts'

const VERSION = 'v1'
const IV_BYTES = 12
const TAG_BYTES = 16
/** The server secret must be at least this long (characters); 43 is 32 bytes of base64url. */
export const MIN_SECRET_LENGTH = 32
const B64URL = /^[A-Za-z0-9_-]+$/

function unreadable(cause?: unknown): ParleyError {
  return new ParleyError('ERR_INTERNAL', 'A sealed secret could not be opened', { cause })
}

/**
 * Seals and opens small secrets. Output: `v1.<iv>.<ciphertext+tag>` in base64url. Any change to
 * the sealed text, or opening it with another key or another `context`, throws.
 *
 * @example
 * const box = new SecretBox(serverSecret)
 * const sealed = box.seal('JBSWY3DPEHPK3PXP', userId)
 * box.open(sealed, userId) // 'JBSWY3DPEHPK3PXP'
 */
export class SecretBox {
  readonly #key: Buffer

  constructor(serverSecret: string, info = 'parley totp v1') {
    if (typeof serverSecret !== 'string' || serverSecret.length < MIN_SECRET_LENGTH) {
      throw new ParleyError(
        'ERR_CONFIG_INVALID',
        `the server secret must be at least ${MIN_SECRET_LENGTH} characters`,
      )
    }
    this.#key = Buffer.from(hkdfSync('sha256', serverSecret, Buffer.alloc(0), info, 32))
  }

  /**
   * Encrypts `plaintext` under a fresh random IV. `context` (for example the user id) is bound as
   * associated data, so a sealed value copied onto another record does not open there.
   */
  seal(plaintext: string, context = ''): string {
    const iv = randomBytes(IV_BYTES)
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv, { authTagLength: TAG_BYTES })
    cipher.setAAD(Buffer.from(`${VERSION}\u0000${context}`))
    const body = Buffer.concat([
      cipher.update(plaintext, 'utf8'),
      cipher.final(),
      cipher.getAuthTag(),
    ])
    return `${VERSION}.${iv.toString('base64url')}.${body.toString('base64url')}`
  }

  /** Decrypts what {@link SecretBox.seal} produced; throws ERR_INTERNAL when it was altered. */
  open(sealed: string, context = ''): string {
    const parts = typeof sealed === 'string' ? sealed.split('.') : []
    const [version, ivText, bodyText] = parts
    if (
      parts.length !== 3 ||
      version !== VERSION ||
      !B64URL.test(ivText!) ||
      !B64URL.test(bodyText!)
    ) {
      throw unreadable()
    }
    const iv = Buffer.from(ivText!, 'base64url')
    const body = Buffer.from(bodyText!, 'base64url')
    if (iv.length !== IV_BYTES || body.length < TAG_BYTES) throw unreadable()
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, iv, { authTagLength: TAG_BYTES })
      decipher.setAAD(Buffer.from(`${VERSION}\u0000${context}`))
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES))
      const plain = Buffer.concat([
        decipher.update(body.subarray(0, body.length - TAG_BYTES)),
        decipher.final(),
      ])
      return plain.toString('utf8')
    } catch (cause) {
      throw unreadable(cause)
    }
  }
}
