import { describe, it, expect, beforeEach, afterEach } from '@jest/globals';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import '@unfazed/testing/jest';
import {
  checkExactlyOnce,
  createHistory,
  createLedger,
  loadHistory,
  runChild,
  type History,
  type Ledger,
} from '@unfazed/testing';

/**
 * A charges endpoint that applies its effect (the ledger) and then, for the first request
 * only, loses the response: the socket is destroyed after the handler ran. With `dedupe` it
 * answers a repeated key from its stored response instead of charging again.
 */
function chargesServer(ledger: Ledger, options: { dedupe: boolean; loseFirstResponse: boolean }) {
  const stored = new Map<string, string>();
  let requests = 0;
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    requests++;
    const header = req.headers['idempotency-key'];
    req.resume();
    req.on('end', () => {
      const key = typeof header === 'string' ? header : '';
      const replay = options.dedupe ? stored.get(key) : undefined;
      if (replay === undefined) {
        ledger.record(header, { charge: 42, request: requests });
        stored.set(key, JSON.stringify({ id: `ch_${requests}` }));
      }
      if (options.loseFirstResponse && requests === 1) {
        req.socket.destroy();
        return;
      }
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(replay ?? stored.get(key));
    });
  });
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/charges`;
}

/** A naive client: retries on any error with the same key, recording each attempt. */
async function chargeWithRetries(history: History, url: string, key: string): Promise<void> {
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      await history.track(
        key,
        async () => {
          const res = await request(url, {
            method: 'POST',
            headers: { 'idempotency-key': `"${key}"` },
            body: '{"amount":42}',
          });
          await res.body.text();
          return res;
        },
        { label: `POST /charges attempt ${attempt}` },
      );
      return;
    } catch {
      // retry
    }
  }
}

let server: Server | undefined;
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'unfazed-eo-'));
});
afterEach(async () => {
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

describe('exactly-once over a real HTTP server with a lost response', () => {
  it('flags the duplicate charge of a server that does not deduplicate', async () => {
    const ledger = createLedger();
    server = chargesServer(ledger, { dedupe: false, loseFirstResponse: true });
    const url = await listen(server);
    const history = createHistory();
    await chargeWithRetries(history, url, 'order-1');

    expect(history.events().map((e) => e.type)).toEqual(['invoke', 'unknown', 'invoke', 'ok']);
    expect(history).not.toHaveAppliedExactlyOnce(ledger);
    const report = checkExactlyOnce(history, ledger);
    expect(report.violations.map((v) => v.kind)).toEqual(['duplicate-effect']);
    expect(report.message).toMatch(/unknown\s+op \S+\s+(UND_ERR_SOCKET|ECONNRESET)/);
  });

  it('passes when the server deduplicates by key', async () => {
    const ledger = createLedger();
    server = chargesServer(ledger, { dedupe: true, loseFirstResponse: true });
    const url = await listen(server);
    const history = createHistory();
    await chargeWithRetries(history, url, 'order-2');
    expect(ledger.count('order-2')).toBe(1);
    expect(history).toHaveAppliedExactlyOnce(ledger, { unknownMustApply: true });
  });
});

describe('exactly-once across a client crash and restart', () => {
  const client = join(__dirname, 'fixtures', 'charge-client.ts');

  async function crashThenRestart(dedupe: boolean): Promise<{ history: History; ledger: Ledger }> {
    const ledger = createLedger();
    server = chargesServer(ledger, { dedupe, loseFirstResponse: false });
    const url = await listen(server);
    const historyFile = join(dir, 'history.jsonl');
    const args = [url, 'order-3', historyFile];
    const first = await runChild(client, { args, kill: { atCheckpoint: 'after-response' } });
    expect((await first.exited).killedAt).toBe('after-response');
    const second = await first.restart();
    expect((await second.exited).code).toBe(0);
    return { history: loadHistory(historyFile), ledger };
  }

  it('passes when the restarted client reuses its key against a deduplicating server', async () => {
    const { history, ledger } = await crashThenRestart(true);
    expect(history.events().map((e) => e.type)).toEqual(['invoke', 'invoke', 'ok']);
    expect(history).toHaveAppliedExactlyOnce(ledger, { unknownMustApply: true });
  });

  it('catches the second charge when the server does not deduplicate', async () => {
    const { history, ledger } = await crashThenRestart(false);
    expect(() => expect(history).toHaveAppliedExactlyOnce(ledger)).toThrow(
      /duplicate-effect[\s\S]*timeline of key "order-3"[\s\S]*\(never ended\)/,
    );
  });
});
