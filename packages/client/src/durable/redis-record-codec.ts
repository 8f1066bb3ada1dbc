import type { OperationState } from '@unfazed/contract';
import type { OperationKeys } from './redis-keys.js';
import type { HistoryEntry, OperationPhase, OperationRecord, Settlement } from './types.js';

/** @internal Arguments of the settle script: due times and lease expiries as offsets from `now`. */
export function settleArgs(
  k: Readonly<OperationKeys>,
  id: string,
  owner: string,
  now: number,
  s: Settlement,
  entries: readonly HistoryEntry[],
  retention: number,
): string[] {
  const str = (v: number | undefined): string => (v === undefined ? '' : String(v));
  const lastError =
    'lastError' in s && s.lastError !== undefined ? JSON.stringify(s.lastError) : '';
  const response = 'response' in s && s.response !== undefined ? JSON.stringify(s.response) : '';
  // Due times and lease expiries go as offsets from `now`: the script applies them to Redis's clock.
  return [
    ...k,
    id,
    owner,
    s.action,
    s.action === 'retry' || s.action === 'release' ? String(s.dueAt - now) : '',
    s.action === 'hook' ? s.phase : '',
    s.action === 'hook' ? String(s.leaseUntil - now) : '',
    s.action === 'finish' ? s.state : '',
    str(s.attempts),
    lastError,
    response,
    String(retention),
    s.saga !== undefined ? JSON.stringify(s.saga) : '',
    s.saga?.stuck === true && s.action !== 'finish' ? '1' : '',
    ...entries.map((e) => JSON.stringify(e)),
  ];
}

/** @internal The records (and takeover flags) a claim script answered. */
export function parseClaimed(
  reply: readonly unknown[][],
): { record: OperationRecord; takeover: boolean }[] {
  return reply.map((fields) => ({
    takeover: Number(fields[0]) === 1,
    record: parseRecord(fields.slice(1) as string[]),
  }));
}

/** @internal A record from the flat field/value list a script answered. */
export function parseRecord(flat: readonly string[]): OperationRecord {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i] as string] = flat[i + 1] as string;
  return fromHash(fields);
}

/** @internal A record from its Redis hash. */
export function fromHash(f: Record<string, string>): OperationRecord {
  const num = (k: string): number => Number(f[k] ?? 0);
  const rec: Record<string, unknown> = {
    id: f['id'],
    type: f['type'],
    input: f['input'] ?? 'null',
    state: f['state'] as OperationState,
    phase: (f['phase'] ?? 'attempt') as OperationPhase,
    attempts: num('attempts'),
    createdAt: num('createdAt'),
    updatedAt: num('updatedAt'),
    deadline: num('deadline'),
    dueAt: num('dueAt'),
  };
  if (f['key'] !== undefined) rec['key'] = f['key'];
  if (f['trace'] !== undefined) rec['trace'] = f['trace'];
  if (f['owner'] !== undefined) rec['owner'] = f['owner'];
  if (f['leaseUntil'] !== undefined) rec['leaseUntil'] = num('leaseUntil');
  if (f['finishedAt'] !== undefined) rec['finishedAt'] = num('finishedAt');
  if (f['lastError'] !== undefined) rec['lastError'] = JSON.parse(f['lastError']);
  if (f['response'] !== undefined) rec['response'] = JSON.parse(f['response']);
  if (f['saga'] !== undefined) rec['saga'] = JSON.parse(f['saga']);
  return rec as unknown as OperationRecord;
}
