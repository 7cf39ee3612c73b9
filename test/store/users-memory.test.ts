/** @module The UserStore contract on the memory store. */
import { MemoryStore } from '../../src/store/memory/index.ts'
import { runUserStoreContract } from './user-contract.case.ts'

runUserStoreContract({ name: 'memory', create: async () => new MemoryStore() })
