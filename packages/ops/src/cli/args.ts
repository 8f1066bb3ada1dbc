import { parseArgs } from 'node:util';
import { suggest } from '@unfazed/contract/internal';

/** A bad command line (exit 1): the message names the flag or argument and what was wrong. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The command whose usage to print under the message, if known. */
    readonly command?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

type Flag = { readonly type: 'string' | 'boolean'; readonly multiple?: boolean };

/** Flags every command takes. */
const GLOBAL: Record<string, Flag> = {
  url: { type: 'string' },
  header: { type: 'string', multiple: true },
  json: { type: 'boolean' },
  timeout: { type: 'string' },
  help: { type: 'boolean' },
};

const FILTERS: Record<string, Flag> = {
  type: { type: 'string' },
  state: { type: 'string', multiple: true },
  'error-code': { type: 'string' },
  status: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  text: { type: 'string' },
};

interface CommandSpec {
  readonly flags: Record<string, Flag>;
  /** Positional arguments: names, `?` when optional. */
  readonly args: readonly string[];
  readonly usage: string;
}

/** The commands, their flags and their one-line usage. */
export const COMMANDS: Record<string, CommandSpec> = {
  queues: { flags: {}, args: [], usage: 'queues' },
  search: {
    flags: {
      ...FILTERS,
      limit: { type: 'string' },
      cursor: { type: 'string' },
      all: { type: 'boolean' },
    },
    args: [],
    usage:
      'search [--type T] [--state S[,S]] [--error-code C] [--status N] [--since T] [--until T] [--text X] [--limit N] [--cursor C | --all]',
  },
  show: { flags: {}, args: ['id'], usage: 'show <id>' },
  redrive: {
    flags: {
      reason: { type: 'string' },
      input: { type: 'string' },
      'input-file': { type: 'string' },
      filter: { type: 'string' },
      ...FILTERS,
      rate: { type: 'string' },
      max: { type: 'string' },
      target: { type: 'string' },
      'dry-run': { type: 'boolean' },
      'cancel-reason': { type: 'string' },
    },
    args: ['id?'],
    usage:
      'redrive <id> --reason R [--input JSON | --input-file F]\n' +
      '       redrive --filter JSON|<filter flags> --reason R [--rate N] [--max N] [--target O] [--dry-run]',
  },
  discard: {
    flags: { reason: { type: 'string' } },
    args: ['id'],
    usage: 'discard <id> --reason R',
  },
  pause: {
    flags: { reason: { type: 'string' } },
    args: ['type'],
    usage: 'pause <type> --reason R',
  },
  resume: {
    flags: { reason: { type: 'string' } },
    args: ['type'],
    usage: 'resume <type> --reason R',
  },
  audit: {
    flags: { limit: { type: 'string' }, cursor: { type: 'string' }, all: { type: 'boolean' } },
    args: [],
    usage: 'audit [--limit N] [--cursor C | --all]',
  },
};

export const USAGE = `Usage: unfazed-ops <command> [flags]

Commands:
${Object.values(COMMANDS)
  .map((c) => `  ${c.usage}`)
  .join('\n')}

Flags of every command:
  --url URL            the console's base URL (http://host:port/ops); default $UNFAZED_OPS_URL
  --header 'N: V'      an extra request header (repeatable), e.g. 'Authorization: Bearer …';
                       $UNFAZED_OPS_AUTHORIZATION sets Authorization
  --json               one JSON document on stdout (for scripts)
  --timeout MS         per HTTP request (default 10000)
  --help               this text

Exit codes: 0 ok, 1 usage error, 2 API or HTTP error, 3 not found, 4 refused (401/403),
5 bulk redrive cancelled or with failed items.`;

/** The usage of one command. */
export function commandUsage(command: string): string {
  const spec = COMMANDS[command];
  return spec
    ? `Usage: unfazed-ops ${spec.usage}\n(unfazed-ops --help for the flags of every command)`
    : USAGE;
}

/** A parsed command line. */
export interface Parsed {
  readonly command: string | undefined;
  readonly args: readonly string[];
  /** Flag values by name: strings, string arrays (`multiple`), booleans. */
  readonly flags: Readonly<Record<string, string | boolean | string[] | undefined>>;
}

const ALL_FLAGS: Record<string, Flag> = Object.assign(
  {},
  GLOBAL,
  ...Object.values(COMMANDS).map((c) => c.flags),
) as Record<string, Flag>;

/**
 * Parses `argv` (without node and the script): the command, its positional arguments and its
 * flags (global flags anywhere).
 * @throws {UsageError} naming the unknown command or flag (with the closest known one), a
 *   missing value, a missing or extra argument.
 */
export function parseCommandLine(argv: readonly string[]): Parsed {
  const { tokens } = parseArgs({
    args: [...argv],
    options: Object.fromEntries(
      Object.entries(ALL_FLAGS).map(([name, f]) => [
        name,
        name === 'help' ? { type: f.type, short: 'h' } : { type: f.type },
      ]),
    ),
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const positionals = tokens.filter((t) => t.kind === 'positional').map((t) => t.value);
  const command = positionals[0];
  const help = tokens.some((t) => t.kind === 'option' && t.name === 'help');
  if (command === undefined) {
    if (help) return { command: undefined, args: [], flags: { help: true } };
    throw new UsageError('a command is needed');
  }
  const spec = COMMANDS[command];
  if (!spec) {
    const hint = suggest(command, Object.keys(COMMANDS));
    throw new UsageError(
      `unknown command "${command}"${hint ? `; did you mean "${hint}"?` : ''} (commands: ${Object.keys(COMMANDS).join(', ')})`,
    );
  }
  const known: Record<string, Flag> = { ...GLOBAL, ...spec.flags };
  const flags: Record<string, string | boolean | string[]> = {};
  for (const t of tokens) {
    if (t.kind !== 'option') continue;
    const flag = known[t.name];
    const shown = t.rawName;
    if (!flag) {
      const hint = suggest(t.name, Object.keys(known));
      const elsewhere = Object.entries(COMMANDS)
        .filter(([, c]) => t.name in c.flags)
        .map(([name]) => name);
      throw new UsageError(
        `unknown flag ${shown} for ${command}` +
          (hint ? `; did you mean --${hint}?` : '') +
          (!hint && elsewhere.length ? ` (it is a flag of ${elsewhere.join(', ')})` : ''),
        command,
      );
    }
    if (flag.type === 'boolean') {
      if (t.inlineValue) throw new UsageError(`${shown} takes no value`, command);
      flags[t.name] = true;
      continue;
    }
    if (t.value === undefined) throw new UsageError(`${shown} needs a value`, command);
    if (!t.inlineValue && t.value.startsWith('-') && t.value !== '-')
      throw new UsageError(
        `${shown} needs a value (got the flag ${t.value}; write ${shown}=${t.value} for a value starting with -)`,
        command,
      );
    if (flag.multiple)
      flags[t.name] = [...((flags[t.name] as string[] | undefined) ?? []), t.value];
    else if (t.name in flags && flags[t.name] !== t.value)
      throw new UsageError(`${shown} was given twice`, command);
    else flags[t.name] = t.value;
  }
  const args = positionals.slice(1);
  if (flags['help'] === true) return { command, args, flags };
  const required = spec.args.filter((a) => !a.endsWith('?'));
  if (args.length < required.length)
    throw new UsageError(`${command} needs <${required[args.length]}>`, command);
  if (args.length > spec.args.length)
    throw new UsageError(
      `${command} takes ${spec.args.length === 0 ? 'no argument' : `at most ${spec.args.length} argument`} (got an extra "${args[spec.args.length]}")`,
      command,
    );
  return { command, args, flags };
}

/** A flag's value as an integer in `[min, max]`. */
export function intFlag(
  flags: Parsed['flags'],
  name: string,
  command: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  const v = flags[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isSafeInteger(n) || n < min || n > max)
    throw new UsageError(
      `--${name} must be an integer from ${min}${max === Number.MAX_SAFE_INTEGER ? '' : ` to ${max}`} (got ${JSON.stringify(v)})`,
      command,
    );
  return n;
}

/** A flag's value as a positive number. */
export function positiveFlag(
  flags: Parsed['flags'],
  name: string,
  command: string,
): number | undefined {
  const v = flags[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n) || n <= 0)
    throw new UsageError(`--${name} must be a number above 0 (got ${JSON.stringify(v)})`, command);
  return n;
}

/** A time flag (`--since`, `--until`): epoch ms or an ISO date, as epoch ms. */
export function timeFlag(
  flags: Parsed['flags'],
  name: string,
  command: string,
): number | undefined {
  const v = flags[name];
  if (typeof v !== 'string') return undefined;
  if (/^\d+$/.test(v)) return Number(v);
  const t = Date.parse(v);
  if (Number.isNaN(t))
    throw new UsageError(
      `--${name} must be epoch milliseconds or an ISO date such as 2025-01-31T12:00:00Z (got ${JSON.stringify(v)})`,
      command,
    );
  return t;
}

/** `--state` values (repeated or comma-separated), each one of `allowed`. */
export function statesFlag(
  flags: Parsed['flags'],
  command: string,
  allowed: readonly string[],
): string[] | undefined {
  const v = flags['state'];
  if (v === undefined) return undefined;
  const states = (Array.isArray(v) ? v : [String(v)])
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const s of states) {
    if (!allowed.includes(s)) {
      const hint = suggest(s, allowed);
      throw new UsageError(
        `--state "${s}" is not one of ${allowed.join(', ')}${hint ? `; did you mean "${hint}"?` : ''}`,
        command,
      );
    }
  }
  if (states.length === 0) throw new UsageError('--state needs a value', command);
  return states;
}

/** A string flag's value (undefined when absent). */
export function stringFlag(flags: Parsed['flags'], name: string): string | undefined {
  const v = flags[name];
  return typeof v === 'string' ? v : undefined;
}
