import { memoryDurableStore } from '@unfazed/client/durable';
import { describeSagaBehaviour } from './saga-suite.js';

describeSagaBehaviour('memory store', async () => memoryDurableStore());
