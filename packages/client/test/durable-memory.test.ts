import { memoryStore } from '@unfazed/client';
import { describeDurableBehaviour } from './durable-suite.js';

describeDurableBehaviour('memory store', async () => memoryStore());
