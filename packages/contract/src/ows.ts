/** Strips RFC 9110 optional whitespace (spaces and tabs) from both ends of a header value. */
export function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && isOws(value.charCodeAt(start))) start++;
  while (end > start && isOws(value.charCodeAt(end - 1))) end--;
  return value.slice(start, end);
}

/** True for a space or a tab. */
export function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}
