import { describe, expect, it } from '@jest/globals';
import { TokenBucket } from './retry-budget.js';

describe('retry budget token bucket', () => {
  it('starts full, a retry takes one token, none below one', () => {
    const bucket = new TokenBucket(3, 0.1, 0, () => 0);
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    expect(bucket.tokens()).toBe(0);
  });

  it('a success earns tokenRatio, capped at maxTokens', () => {
    const bucket = new TokenBucket(2, 0.5, 0, () => 0);
    bucket.take();
    bucket.take();
    bucket.earn();
    expect(bucket.take()).toBe(false); // 0.5 token
    bucket.earn();
    expect(bucket.take()).toBe(true);
    for (let i = 0; i < 10; i++) bucket.earn();
    expect(bucket.tokens()).toBe(2);
  });

  it('refills with the injected clock, and says when the next token is due', () => {
    let now = 1_000;
    const bucket = new TokenBucket(10, 0.1, 2, () => now); // 2 tokens a second
    for (let i = 0; i < 10; i++) expect(bucket.take()).toBe(true);
    expect(bucket.take()).toBe(false);
    expect(bucket.nextTokenAt()).toBe(1_500);
    now = 1_499;
    expect(bucket.take()).toBe(false);
    now = 1_500;
    expect(bucket.take()).toBe(true);
    now = 100_000;
    expect(bucket.tokens()).toBe(10);
  });

  it('without a time refill, looks again a second later (successes may earn a token)', () => {
    const bucket = new TokenBucket(1, 0.1, 0, () => 5_000);
    bucket.take();
    expect(bucket.nextTokenAt()).toBe(6_000);
  });
});
