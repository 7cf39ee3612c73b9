import { MemoryStore } from '../../src/store/memory/index.ts'
import { runStoreContract } from './contract.case.ts'

runStoreContract({ name: 'memory', create: async () => new MemoryStore() })
