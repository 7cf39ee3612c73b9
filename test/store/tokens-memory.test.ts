/** @module The TokenStore contract on the memory store. */
import { MemoryStore } from '../../src/store/memory/index.ts'
import { runTokenStoreContract } from './token-contract.case.ts'

runTokenStoreContract({ name: 'memory', create: async () => new MemoryStore() })
