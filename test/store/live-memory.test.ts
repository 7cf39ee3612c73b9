/** @module The LiveStore contract on the memory store. */
import { MemoryStore } from '../../src/store/memory/index.ts'
import { runLiveStoreContract } from './live-contract.case.ts'

runLiveStoreContract({ name: 'memory', create: async () => new MemoryStore() })
