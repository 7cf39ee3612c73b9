/**
 * @module What the user and token stores share of the session store's SQLite connection: cached
 * prepared statements, driver errors mapped to ParleyError, IMMEDIATE transactions, migrations.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite'
import { type Row, wrap } from './codec.ts'

/** What a store beside the session store needs of the connection it shares. */
export interface SqliteConnection {
  /** Opens the database and applies the session store's migrations; safe to call again. */
  open(): Promise<void>
  /** The open handle; throws ERR_STORE_UNAVAILABLE when it is closed. */
  database(): DatabaseSync
}

/**
 * Statements and transactions on a shared connection.
 *
 * @example
 * const db = new SharedSqlite(connection)
 * await db.migrate(USER_MIGRATIONS)
 * const row = db.run(() => db.q('SELECT * FROM users WHERE id = ?').get(id))
 */
export class SharedSqlite {
  readonly #conn: SqliteConnection
  #stmts = new Map<string, StatementSync>()
  /** The handle the cached statements belong to: a reopened store has a new one. */
  #stmtsOf: DatabaseSync | null = null

  constructor(connection: SqliteConnection) {
    this.#conn = connection
  }

  /** Opens the shared database when needed and applies `migrations` not yet recorded. */
  async migrate(migrations: readonly { version: number; sql: string }[]): Promise<void> {
    await this.#conn.open()
    this.run(() =>
      this.tx((db) => {
        const rows = db.prepare('SELECT version FROM schema_migrations').all() as Row[]
        const have = new Set(rows.map((r) => Number(r.version)))
        for (const m of migrations) {
          if (have.has(m.version)) continue
          db.exec(m.sql)
          db.prepare('INSERT INTO schema_migrations (version) VALUES (?)').run(m.version)
        }
      }),
    )
  }

  /** Forgets the prepared statements; the connection belongs to the session store. */
  forget(): void {
    this.#stmts.clear()
    this.#stmtsOf = null
  }

  /** A prepared statement, cached per open handle. */
  q(sql: string): StatementSync {
    const db = this.#conn.database()
    if (this.#stmtsOf !== db) {
      this.#stmts.clear()
      this.#stmtsOf = db
    }
    let stmt = this.#stmts.get(sql)
    if (stmt === undefined) {
      stmt = db.prepare(sql)
      this.#stmts.set(sql, stmt)
    }
    return stmt
  }

  /** Runs `fn`, mapping driver failures to ParleyError (ERR_STORE_UNAVAILABLE, ...). */
  run<T>(fn: () => T): T {
    try {
      return fn()
    } catch (err) {
      throw wrap(err)
    }
  }

  /** One IMMEDIATE transaction, as the session store runs its writes: the write lock first. */
  tx<T>(fn: (db: DatabaseSync) => T): T {
    const db = this.#conn.database()
    db.exec('BEGIN IMMEDIATE')
    try {
      const result = fn(db)
      db.exec('COMMIT')
      return result
    } catch (err) {
      if (db.isTransaction) db.exec('ROLLBACK')
      throw err
    }
  }
}
