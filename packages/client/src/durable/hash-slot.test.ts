import { describe, expect, it } from '@jest/globals';
import { hashSlot, partitionTags } from './hash-slot.js';

describe('hash slots', () => {
  it('matches the Redis Cluster specification', () => {
    // Values from CLUSTER KEYSLOT.
    expect(hashSlot('foo')).toBe(12182);
    expect(hashSlot('123456789')).toBe(12739);
    expect(hashSlot('{user1000}.following')).toBe(hashSlot('user1000'));
    expect(hashSlot('foo{}{bar}')).toBe(hashSlot('foo{}{bar}'));
  });

  it('chooses partition tags spread evenly over the slot space', () => {
    const tags = partitionTags(6);
    expect(new Set(tags).size).toBe(6);
    tags.forEach((tag, p) => {
      const slot = hashSlot(tag);
      expect(slot).toBeGreaterThanOrEqual(Math.floor((p * 16384) / 6));
      expect(slot).toBeLessThan(Math.floor(((p + 1) * 16384) / 6));
    });
  });
});
