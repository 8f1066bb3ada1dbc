import type { Cluster, Redis } from 'ioredis';
import { DurabilityNotConfirmedError } from './errors.js';
import { hashSlot } from './hash-slot.js';

/** How many fsyncs `WAITAOF` must confirm, and how long to wait for them. */
export interface WaitAofOptions {
  readonly numLocal?: number;
  readonly numReplicas?: number;
  readonly timeout?: number;
}

/**
 * @internal Waits until the write of operation `id` (on `key`) reached the AOF on disk, on the
 * node that owns `key`; throws {@link DurabilityNotConfirmedError} when it cannot be confirmed.
 */
export async function confirmAof(
  redis: Redis | Cluster,
  isCluster: boolean,
  waitAof: WaitAofOptions,
  id: string,
  key: string,
): Promise<void> {
  const numLocal = waitAof.numLocal ?? 1;
  const numReplicas = waitAof.numReplicas ?? 0;
  const timeout = waitAof.timeout ?? 1_000;
  const node = isCluster ? nodeOf(redis as Cluster, id, key) : redis;
  let reply: unknown;
  try {
    reply = await node.call('WAITAOF', String(numLocal), String(numReplicas), String(timeout));
  } catch (error) {
    throw new DurabilityNotConfirmedError(
      `WAITAOF failed (needs Redis >= 7.2 with appendonly yes): ${error instanceof Error ? error.message : String(error)}`,
      id,
      error,
    );
  }
  const [local, replicas] = Array.isArray(reply) ? (reply as number[]) : [0, 0];
  if ((local ?? 0) < numLocal || (replicas ?? 0) < numReplicas) {
    throw new DurabilityNotConfirmedError(
      `WAITAOF confirmed ${local ?? 0} local / ${replicas ?? 0} replica fsyncs, wanted ${numLocal} / ${numReplicas}`,
      id,
    );
  }
}

function nodeOf(cluster: Cluster, id: string, key: string): Redis {
  const owner = (cluster as unknown as { slots: string[][] }).slots[hashSlot(key)]?.[0];
  const found = cluster
    .nodes('master')
    .find((n) => `${n.options.host}:${n.options.port}` === owner);
  if (!found)
    throw new DurabilityNotConfirmedError(`No cluster node known for the slot of ${key}`, id);
  return found;
}
