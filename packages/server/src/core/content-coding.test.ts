import { describe, expect, it } from '@jest/globals';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { acceptsCoding, decodeBody } from './content-coding.js';

describe('acceptsCoding', () => {
  it.each<[string | undefined, string, boolean]>([
    [undefined, 'gzip', true],
    ['gzip, deflate, br', 'gzip', true],
    ['GZIP;q=0.5', 'gzip', true],
    ['gzip;q=0', 'gzip', false],
    ['identity', 'gzip', false],
    ['', 'gzip', false],
    ['br', 'gzip', false],
    ['*', 'br', true],
    ['*;q=0, gzip', 'br', false],
    ['gzip;q=0, *', 'gzip', false],
    ['x-gzip', 'gzip', true],
  ])('%j accepts %s: %s', (header, coding, expected) => {
    expect(acceptsCoding(header, coding)).toBe(expected);
  });
});

describe('decodeBody', () => {
  const text = Buffer.from('{"hello":"world"}');
  it('decodes gzip, deflate and br, and gives up on others or corrupt bytes', () => {
    expect(decodeBody('gzip', gzipSync(text))?.equals(text)).toBe(true);
    expect(decodeBody('deflate', deflateSync(text))?.equals(text)).toBe(true);
    expect(decodeBody('br', brotliCompressSync(text))?.equals(text)).toBe(true);
    expect(decodeBody('zstd', text)).toBeUndefined();
    expect(decodeBody('gzip', text)).toBeUndefined();
  });
});
