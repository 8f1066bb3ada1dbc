/** How the CLI writes for people: colour only on a terminal with `NO_COLOR` unset. */
export interface Paint {
  readonly color: boolean;
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
  green(s: string): string;
  /** A state in its colour (dead/failed red, compensated/compensating yellow, …). */
  state(s: string): string;
}

/** True when `stream` is a terminal and `NO_COLOR` (any value) and `TERM=dumb` are unset. */
export function wantsColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  return stream.isTTY === true && env['NO_COLOR'] === undefined && env['TERM'] !== 'dumb';
}

export function paint(color: boolean): Paint {
  const sgr =
    (open: number, close: number) =>
    (s: string): string =>
      color && s !== '' ? `\x1b[${open}m${s}\x1b[${close}m` : s;
  const red = sgr(31, 39);
  const yellow = sgr(33, 39);
  const green = sgr(32, 39);
  return {
    color,
    bold: sgr(1, 22),
    dim: sgr(2, 22),
    red,
    yellow,
    green,
    state: (s) =>
      s === 'dead' || s === 'failed'
        ? red(s)
        : s === 'compensated' || s === 'compensating' || s === 'held' || s === 'cancelled'
          ? yellow(s)
          : s === 'completed'
            ? green(s)
            : s,
  };
}

// eslint-disable-next-line no-control-regex -- SGR sequences are what we strip
const SGR = /\x1b\[[0-9;]*m/g;

/** Visible width (colour codes take none; one column per code point). */
export function width(s: string): number {
  return [...s.replace(SGR, '')].length;
}

/** `s` cut to `max` columns with an ellipsis (plain text only). */
export function cut(s: string, max: number): string {
  const chars = [...s];
  return chars.length <= max ? s : `${chars.slice(0, Math.max(0, max - 1)).join('')}…`;
}

/** One line of text: newlines and tabs as spaces. */
export function oneLine(s: string): string {
  return s.replace(/[\r\n\t]+/g, ' ');
}

/**
 * Aligned columns: a header row, then the rows; the last column is not padded. Cells are
 * already painted; `right` names the columns aligned to the right (numbers).
 */
export function table(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  p: Paint,
  right: readonly number[] = [],
): string {
  const widths = headers.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ''))));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => {
        const pad = ' '.repeat(Math.max(0, (widths[i] ?? 0) - width(c)));
        if (right.includes(i)) return pad + c;
        return i === cells.length - 1 ? c : c + pad;
      })
      .join('  ')
      .trimEnd();
  return [p.bold(line(headers)), ...rows.map(line)].join('\n') + '\n';
}

/** Epoch ms as `2025-01-31 12:00:00Z` (UTC, to the second). */
export function time(ms: number | undefined | null): string {
  if (ms === undefined || ms === null || !Number.isFinite(ms)) return '-';
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

/** A duration, ms: `850 ms`, `3.2 s`, `4 m 5 s`, `2 h 3 m`. */
export function duration(ms: number | undefined | null): string {
  if (ms === undefined || ms === null || !Number.isFinite(ms)) return '-';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} m ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} m`;
}

/** Any JSON value as compact text. */
export function compact(v: unknown): string {
  return v === undefined ? '-' : oneLine(JSON.stringify(v) ?? String(v));
}
