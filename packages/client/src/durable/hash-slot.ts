/** Redis Cluster hash slot of a key (CRC16/XMODEM of its hash tag, mod 16384). */
export function hashSlot(key: string): number {
  let s = key;
  const open = key.indexOf('{');
  if (open !== -1) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) s = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const byte of Buffer.from(s, 'utf8')) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

/**
 * Hash tags for `n` partitions whose slots are spread evenly over the 16384 slots, so that
 * partitions land on different shards of a cluster (whose masters own contiguous slot ranges).
 */
export function partitionTags(n: number): string[] {
  const tags: string[] = [];
  for (let p = 0; p < n; p++) {
    const lo = Math.floor((p * 16384) / n);
    const hi = Math.floor(((p + 1) * 16384) / n);
    let tag = `${p}`;
    for (let j = 0; j < 1_000_000; j++) {
      const candidate = `${p}.${j}`;
      const slot = hashSlot(candidate);
      if (slot >= lo && slot < hi) {
        tag = candidate;
        break;
      }
    }
    tags.push(tag);
  }
  return tags;
}
