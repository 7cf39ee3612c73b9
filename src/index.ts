/** @module parley: the session core and the embedded stores. Other adapters live on subpaths. */
export * from './core/index.ts'
export { MemoryStore } from './store/memory/index.ts'
