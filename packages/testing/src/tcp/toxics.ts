import { InvalidOptionError, option } from '@unfazed/contract';

/** Direction a toxic acts on: `upstream` = client → server, `downstream` = server → client. */
export type ToxicStream = 'upstream' | 'downstream';

interface ToxicBase {
  /** Unique name; default `<type>_<stream>` like toxiproxy. */
  name?: string;
  /** Default `downstream`. */
  stream?: ToxicStream;
  /** Probability (0..1) that the toxic applies to a given connection; default 1. Seeded. */
  toxicity?: number;
}

/** Delay every chunk by `latency` ms ± `jitter` ms. */
export interface LatencyToxic extends ToxicBase {
  type: 'latency';
  latency: number;
  jitter?: number;
}
/** Limit throughput to `rate` KB/s. */
export interface BandwidthToxic extends ToxicBase {
  type: 'bandwidth';
  rate: number;
}
/** Delay the closing of the connection (the FIN) by `delay` ms. */
export interface SlowCloseToxic extends ToxicBase {
  type: 'slowClose';
  delay: number;
}
/** Drop all data; close the connection after `timeout` ms, or never when 0 (a black hole). */
export interface TimeoutToxic extends ToxicBase {
  type: 'timeout';
  timeout: number;
}
/** Reset the connection (TCP RST) after `timeout` ms (default 0: at once). */
export interface ResetPeerToxic extends ToxicBase {
  type: 'resetPeer';
  timeout?: number;
}
/** Slice data into pieces of `averageSize` ± `sizeVariation` bytes, `delay` ms apart. */
export interface SlicerToxic extends ToxicBase {
  type: 'slicer';
  averageSize: number;
  sizeVariation?: number;
  delay?: number;
}
/** Close the connection once `bytes` bytes went through in this direction. */
export interface LimitDataToxic extends ToxicBase {
  type: 'limitData';
  bytes: number;
}

/** A toxic as given to `addToxic`: toxiproxy's toxics with camelCase names. */
export type ToxicSpec =
  | LatencyToxic
  | BandwidthToxic
  | SlowCloseToxic
  | TimeoutToxic
  | ResetPeerToxic
  | SlicerToxic
  | LimitDataToxic;

/** A toxic in force: the spec with its defaults filled in. */
export type Toxic = ToxicSpec & {
  readonly name: string;
  readonly stream: ToxicStream;
  readonly toxicity: number;
};

const TYPES = [
  'latency',
  'bandwidth',
  'slowClose',
  'timeout',
  'resetPeer',
  'slicer',
  'limitData',
] as const;

const optionalNumber = option.number().optional();
/**
 * The keys a toxic may have, of any type: a misspelt one is rejected with a hint; what each
 * type requires is checked by {@link normalizeToxic}.
 */
export const toxicSpecRule = option.object({
  type: option.oneOf(TYPES),
  name: option.string({ nonEmpty: true }).optional(),
  stream: option.oneOf(['upstream', 'downstream']).optional(),
  toxicity: optionalNumber,
  latency: optionalNumber,
  jitter: optionalNumber,
  rate: optionalNumber,
  delay: optionalNumber,
  timeout: optionalNumber,
  averageSize: optionalNumber,
  sizeVariation: optionalNumber,
  bytes: optionalNumber,
});

function num(option: string, value: unknown, min: number, integer = false): number {
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < min ||
    (integer && !Number.isInteger(value))
  ) {
    throw new InvalidOptionError(
      option,
      `must be a${integer ? 'n integer' : ' number'} >= ${min}`,
      value,
    );
  }
  return value;
}

/** Validates a toxic spec and fills its defaults. */
export function normalizeToxic(spec: ToxicSpec): Toxic {
  if (
    typeof spec !== 'object' ||
    spec === null ||
    !(TYPES as readonly string[]).includes((spec as { type?: string }).type ?? '')
  ) {
    throw new InvalidOptionError(
      'toxic.type',
      `must be one of ${TYPES.join(', ')}`,
      (spec as { type?: unknown } | null)?.type,
    );
  }
  const stream = spec.stream ?? 'downstream';
  if (stream !== 'upstream' && stream !== 'downstream') {
    throw new InvalidOptionError('toxic.stream', "must be 'upstream' or 'downstream'", stream);
  }
  const toxicity = spec.toxicity ?? 1;
  if (typeof toxicity !== 'number' || !(toxicity >= 0 && toxicity <= 1)) {
    throw new InvalidOptionError('toxic.toxicity', 'must be a number from 0 to 1', toxicity);
  }
  switch (spec.type) {
    case 'latency':
      num('latency', spec.latency, 0);
      num('jitter', spec.jitter ?? 0, 0);
      break;
    case 'bandwidth':
      num('rate', spec.rate, Number.MIN_VALUE);
      break;
    case 'slowClose':
      num('delay', spec.delay, 0);
      break;
    case 'timeout':
      num('timeout', spec.timeout, 0);
      break;
    case 'resetPeer':
      num('timeout', spec.timeout ?? 0, 0);
      break;
    case 'slicer':
      num('averageSize', spec.averageSize, 1, true);
      num('sizeVariation', spec.sizeVariation ?? 0, 0, true);
      if ((spec.sizeVariation ?? 0) >= spec.averageSize) {
        throw new InvalidOptionError(
          'sizeVariation',
          'must be smaller than averageSize',
          spec.sizeVariation,
        );
      }
      num('delay', spec.delay ?? 0, 0);
      break;
    case 'limitData':
      num('bytes', spec.bytes, 0, true);
      break;
  }
  return Object.freeze({
    ...spec,
    name: spec.name ?? `${spec.type}_${stream}`,
    stream,
    toxicity,
  }) as Toxic;
}
