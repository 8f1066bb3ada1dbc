import { option, type ShapeFor } from '@unfazed/contract';
import type { OpsConsoleOptions } from './console.js';

/** The options of `opsConsole`. */
export const opsConsoleOptionsRule = option.object(
  {
    durable: option.instance<OpsConsoleOptions['durable']>(
      'a durable instance (createDurable(...))',
      ['counts', 'gauges', 'status'],
    ),
    authorize: option.function<OpsConsoleOptions['authorize']>(
      'a function (req, action) => decision (pass readOnly for a read-only console)',
    ),
    redact: option.array(option.string({ nonEmpty: true, maxLength: 500 })).default([]),
    basePath: option
      .string({
        test: {
          check: /^(\/[A-Za-z0-9._~-]+)*$/,
          rule: "a path such as '/ops' ('' for the root; no trailing slash)",
        },
      })
      .default('/ops'),
    audit: option
      .instance<NonNullable<OpsConsoleOptions['audit']>>(
        'an audit log (redisAuditLog(redis) or memoryAuditLog())',
        ['append', 'list'],
      )
      .optional(),
    client: option
      .instance<NonNullable<OpsConsoleOptions['client']>>(
        'the client of the durable instance (createClient(...)), with circuit()',
        ['circuit'],
      )
      .optional(),
    allowedOrigins: option.array(option.string({ nonEmpty: true })).default([]),
    maxBodyBytes: option.number({ integer: true, min: 1024 }).default(2_097_152),
    maxBulkItems: option.number({ integer: true, min: 1, max: 1_000_000 }).default(100_000),
    clock: option
      .instance<NonNullable<OpsConsoleOptions['clock']>>('a clock with now() and sleep()', [
        'now',
        'sleep',
      ])
      .optional(),
  } satisfies ShapeFor<OpsConsoleOptions>,
  { aliases: { base: 'basePath', prefix: 'basePath', auth: 'authorize', redactPaths: 'redact' } },
);
