/** Collects the bytes of a response as it is written, up to a cap. */
export class ResponseCapture {
  private readonly chunks: Buffer[] = [];
  private bytes = 0;
  private overflowed = false;
  /** `Content-Encoding` of the bytes captured, as set when the first of them was written. */
  contentEncoding: string | undefined = undefined;
  /** {@link ResponseCapture.noteEncoding} was called. */
  encodingNoted = false;

  constructor(private readonly maxBytes: number) {}

  /**
   * Records the `Content-Encoding` header as it is when the response body starts through the
   * capture: set by then, the bytes captured are encoded (the handler or a compressor that runs
   * before the capture did it); set later, a compressor after the capture encodes what it
   * sees, and will encode the replay again.
   */
  noteEncoding(header: unknown): void {
    this.encodingNoted = true;
    if (header === undefined || header === null) return;
    const value = Array.isArray(header) ? header.map(String).join(', ') : String(header);
    if (value !== '' && value.toLowerCase() !== 'identity') this.contentEncoding = value;
  }

  /** Records one chunk as written to the socket (strings in `encoding`, default utf8). */
  write(chunk: unknown, encoding?: BufferEncoding): void {
    if (chunk === undefined || chunk === null || this.overflowed) return;
    let buf: Buffer;
    if (typeof chunk === 'string') buf = Buffer.from(chunk, encoding ?? 'utf8');
    else if (chunk instanceof Uint8Array) buf = Buffer.from(chunk);
    else return;
    if (buf.length === 0) return;
    this.bytes += buf.length;
    if (this.bytes > this.maxBytes) {
      this.overflowed = true;
      this.chunks.length = 0;
      return;
    }
    this.chunks.push(buf);
  }

  /**
   * The body went out by a path the adapter cannot see (e.g. a hijacked Fastify reply, or a
   * payload type it does not know): keep no body, so that a replay answers
   * `response-not-retained` instead of an empty or partial body.
   */
  lose(): void {
    this.overflowed = true;
    this.chunks.length = 0;
  }

  /** The body written so far, or `null` when it went past the cap or was lost. */
  body(): Buffer | null {
    if (this.overflowed) return null;
    // One chunk (the usual case) is already a copy of our own: no second copy.
    return this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks);
  }
}
