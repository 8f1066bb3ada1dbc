import { hashSlot, partitionTags } from './hash-slot.js';

/** The five keys of one operation: record, history, and its partition's schedule, counts, dlq. */
export type OperationKeys = [string, string, string, string, string];

/**
 * @internal The key layout of the Redis durable store: every key of one operation shares its
 * partition's hash tag, and the schedule is split into partitions with tags of their own.
 */
export class RedisKeys {
  readonly tags: readonly string[];
  /** The tags in the visit order of a claim over every partition, per start partition. */
  readonly #claimAnyTags: (string | undefined)[] = [];

  constructor(
    readonly prefix: string,
    readonly partitions: number,
  ) {
    this.tags = partitionTags(partitions);
  }

  /** The prefix of every key of partition `p`, hash tag included. */
  base(p: number): string {
    return `${this.prefix}{${this.tags[p] ?? String(p)}}:`;
  }

  /** The partition an id names (its suffix), or -1 for an id this store never gave. */
  partitionOf(id: string): number {
    const p = Number(id.slice(id.lastIndexOf('.') + 1));
    if (!Number.isInteger(p) || p < 0 || p >= this.partitions) return -1;
    return p;
  }

  /** The keys of operation `id`, or `undefined` for an id this store never gave. */
  of(id: string): OperationKeys | undefined {
    const p = this.partitionOf(id);
    if (p < 0) return undefined;
    const b = this.base(p);
    return [`${b}op:${id}`, `${b}hist:${id}`, `${b}schedule`, `${b}counts`, `${b}dlq`];
  }

  /** A keyed operation lives in the partition its (type, key) hashes to, so it can be found again. */
  keyPartition(type: string, key: string): number {
    return hashSlot(`${type}\u0000${key}`) % this.partitions;
  }

  /** The key of the (type, key) index of a keyed operation. */
  keyIndex(type: string, key: string): string {
    return `${this.base(this.keyPartition(type, key))}key:${type}:${key}`;
  }

  /** Arguments of the claim script on one partition. */
  claimArgs(
    partition: number,
    limit: number,
    token: string,
    leaseMs: number,
    owner: string,
  ): string[] {
    const b = this.base(partition);
    return [
      `${b}schedule`,
      `${b}counts`,
      String(limit),
      token,
      String(leaseMs),
      `${b}op:`,
      `${b}hist:`,
      owner,
    ];
  }

  /**
   * Arguments of the claim script over every partition, from `startPartition` on: the prefix and
   * the partitions' tags in visit order (two arguments instead of keys and bases for each).
   */
  claimAnyArgs(
    startPartition: number,
    limit: number,
    token: string,
    leaseMs: number,
    owner: string,
  ): string[] {
    let tags = this.#claimAnyTags[startPartition];
    if (tags === undefined) {
      const order: string[] = [];
      for (let i = 0; i < this.partitions; i++) {
        const p = (startPartition + i) % this.partitions;
        order.push(this.tags[p] ?? String(p));
      }
      tags = order.join(' ');
      this.#claimAnyTags[startPartition] = tags;
    }
    return [String(limit), token, String(leaseMs), owner, this.prefix, tags];
  }
}
