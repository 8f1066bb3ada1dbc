// A TypeScript child for runChild(): it imports the installed packages (no source condition).
import { generateIdempotencyKey } from '@unfazed/contract';
import { checkpoint, childRun } from '@unfazed/testing/checkpoint';

const key: string = generateIdempotencyKey();
await checkpoint('started');
console.log(`child run ${childRun()} key ${key.length > 0 ? 'ok' : 'empty'}`);
