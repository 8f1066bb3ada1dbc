/** How a timeline line is coloured (on a colour terminal only). */
export type Tone = 'plain' | 'ok' | 'warn' | 'bad' | 'dim' | 'info' | 'head';

const CODES: Record<Tone, [string, string]> = {
  plain: ['', ''],
  ok: ['\x1b[32m', '\x1b[39m'],
  warn: ['\x1b[33m', '\x1b[39m'],
  bad: ['\x1b[31m', '\x1b[39m'],
  dim: ['\x1b[2m', '\x1b[22m'],
  info: ['\x1b[36m', '\x1b[39m'],
  head: ['\x1b[1m', '\x1b[22m'],
};

/** The readable story the demo prints while it runs. */
export interface Timeline {
  /** One event: seconds since the start, who, what. */
  line(actor: string, text: string, tone?: Tone): void;
  /** A section heading. */
  section(title: string): void;
  /** Free text, indented. */
  note(text: string, tone?: Tone): void;
  /** Paints `text` in a tone (or leaves it plain without colour). */
  paint(text: string, tone: Tone): string;
  /** Ms since the start. */
  elapsed(): number;
}

/** Options of {@link createTimeline}. */
export interface TimelineOptions {
  readonly out: NodeJS.WritableStream;
  /** Colour escapes on or off. */
  readonly color: boolean;
  /** False: print nothing (`--quiet`). */
  readonly enabled: boolean;
  /** Epoch ms the clock starts at. */
  readonly start: number;
}

/** True when `stream` is a terminal and `NO_COLOR` is unset (https://no-color.org). */
export function wantsColor(stream: NodeJS.WritableStream, env: NodeJS.ProcessEnv): boolean {
  const noColor = env['NO_COLOR'];
  return (
    (stream as { isTTY?: boolean }).isTTY === true && (noColor === undefined || noColor === '')
  );
}

/** Creates the timeline printer. */
export function createTimeline(options: TimelineOptions): Timeline {
  const paint = (text: string, tone: Tone): string => {
    if (!options.color || tone === 'plain') return text;
    const [open, close] = CODES[tone];
    return `${open}${text}${close}`;
  };
  const write = (s: string): void => {
    if (options.enabled) options.out.write(`${s}\n`);
  };
  const elapsed = (): number => Date.now() - options.start;
  return {
    paint,
    elapsed,
    line(actor, text, tone = 'plain') {
      const t = `${(elapsed() / 1000).toFixed(2).padStart(6)}s`;
      write(
        `${paint(t, 'dim')}  ${paint(actor.padEnd(18), tone === 'bad' ? 'bad' : 'info')} ${paint(text, tone)}`,
      );
    },
    section(title) {
      write('');
      write(paint(`── ${title} ${'─'.repeat(Math.max(4, 74 - title.length))}`, 'head'));
    },
    note(text, tone = 'dim') {
      write(paint(`          ${text}`, tone));
    },
  };
}
