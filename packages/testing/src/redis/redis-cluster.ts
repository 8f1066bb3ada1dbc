import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, type ClusterOptions } from 'ioredis';
import { InvalidOptionError, option, validateOptions, type ShapeFor } from '@unfazed/contract';
import { HOW_TO_GET_REDIS, RedisStartError, RedisUnavailableError } from './errors.js';
import { portPairFree } from './free-port.js';
import {
  quitClient,
  sleep,
  spawnRedisServer,
  terminate,
  type SpawnedRedis,
} from './redis-server.js';
import { redisCommand, type RedisAddress } from './resp.js';

/** Options of {@link startRedisCluster}. */
export interface RedisClusterOptions {
  /** Number of masters (no replicas). At least 3, which `redis-cli --cluster create` requires. Default 3. */
  masters?: number;
  /** Executable for the nodes. Default `redis-server`. */
  binary?: string;
  /** Executable used to create the cluster. Default `redis-cli`. */
  cli?: string;
  /** How long to wait for every node to report `cluster_state:ok`. Default 20 000 ms. */
  startTimeoutMs?: number;
}

/** A running test cluster. */
export interface RedisClusterHandle {
  /** The masters' addresses (all on 127.0.0.1). */
  readonly nodes: readonly RedisAddress[];
  /** A new ioredis `Cluster` client, quit by `close()`. */
  connect(options?: ClusterOptions): Cluster;
  /** The cluster's temporary directory (one sub-directory per node). */
  readonly dir: string;
  /**
   * Quits the clients, kills every node and deletes the temporary directory (which the nodes'
   * watchdogs also delete if the test process dies without calling this, even by SIGKILL).
   */
  close(): Promise<void>;
}

const clusterOptionsSchema = option.object({
  masters: option.number().optional(), // its rule (>= 3, why) is checked below
  binary: option.string({ nonEmpty: true }).optional(),
  cli: option.string({ nonEmpty: true }).optional(),
  startTimeoutMs: option.duration().optional(),
} satisfies ShapeFor<RedisClusterOptions>);

/**
 * Starts a Redis Cluster of `masters` redis-server processes (`cluster-enabled yes`, no
 * persistence, no replicas) on free ports in a temporary directory, joins them with
 * `redis-cli --cluster create … --cluster-yes`, and resolves once `CLUSTER INFO` reports
 * `cluster_state:ok` on every node. Every node is killed by `close()` and, failing that, when
 * the test process exits.
 *
 * @example
 * const cluster = await startRedisCluster({ masters: 3 });
 * const redis = cluster.connect();
 * await redis.set('{order-1}:state', 'new');
 * await cluster.close();
 */
export async function startRedisCluster(
  options: RedisClusterOptions = {},
): Promise<RedisClusterHandle> {
  validateOptions(clusterOptionsSchema, options, { name: 'startRedisCluster' });
  const masters = options.masters ?? 3;
  if (!Number.isInteger(masters) || masters < 3) {
    throw new InvalidOptionError(
      'masters',
      'must be an integer of at least 3 (redis-cli --cluster create needs 3)',
      masters,
    );
  }
  const binary = options.binary ?? 'redis-server';
  const cli = options.cli ?? 'redis-cli';
  const startTimeoutMs = options.startTimeoutMs ?? 20_000;
  const root = await mkdtemp(join(tmpdir(), 'unfazed-redis-cluster-'));
  const processes: SpawnedRedis[] = [];
  const nodes: RedisAddress[] = [];
  const clients = new Set<Cluster>();

  const teardown = async (): Promise<void> => {
    await Promise.all([...clients].map((client) => quitClient(client)));
    clients.clear();
    await Promise.all(processes.map((p) => terminate(p, 'SIGKILL')));
    await rm(root, { recursive: true, force: true });
  };

  try {
    for (let i = 0; i < masters; i++) {
      const node = await spawnClusterNode(binary, root);
      processes.push(node.spawned);
      nodes.push({ host: '127.0.0.1', port: node.port });
    }
    await createCluster(cli, nodes);
    await waitForClusterOk(nodes, startTimeoutMs);
  } catch (error) {
    await teardown();
    throw error;
  }

  let closed = false;
  return {
    nodes,
    dir: root,
    connect(clientOptions: ClusterOptions = {}) {
      if (closed) throw new Error('startRedisCluster: connect() after close()');
      const client = new Cluster(nodes, clientOptions);
      clients.add(client);
      client.once('end', () => clients.delete(client));
      return client;
    },
    async close() {
      if (closed) return;
      closed = true;
      await teardown();
    },
  };
}

/**
 * Spawns one cluster node on a port P whose bus port P + 10000 is free too. (Redis 7 could
 * take any bus port with `cluster-port`, but Redis 6, still common in distributions, cannot.)
 * Both ports lie below the usual ephemeral range (32768+), so client connections made
 * meanwhile by the tests cannot take them between the check and the bind.
 */
async function spawnClusterNode(
  binary: string,
  root: string,
): Promise<{ port: number; spawned: SpawnedRedis }> {
  for (let attempt = 1; ; attempt++) {
    if (attempt > 50) {
      throw new RedisStartError('No free port pair (P, P + 10000) for a cluster node was found');
    }
    const port = randomInt(12_000, 22_700);
    if (!(await portPairFree(port, port + 10_000))) continue;
    const dir = join(root, String(port));
    await mkdir(dir, { recursive: true });
    try {
      const spawned = await spawnRedisServer({
        binary,
        port,
        dir,
        // Every node's watchdog removes the cluster's whole directory if the owner dies.
        cleanupDir: root,
        startTimeoutMs: 10_000,
        args: [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-node-timeout',
          '3000',
        ],
      });
      return { port, spawned };
    } catch (error) {
      // Someone took a port between the check and the bind: pick another pair.
      const inUse = error instanceof RedisStartError && /in use|bind/i.test(error.message);
      if (!inUse || attempt >= 50) throw error;
    }
  }
}

function createCluster(cli: string, nodes: readonly RedisAddress[]): Promise<void> {
  const args = [
    '--cluster',
    'create',
    ...nodes.map((n) => `${n.host}:${n.port}`),
    '--cluster-replicas',
    '0',
    '--cluster-yes',
  ];
  return new Promise((resolve, reject) => {
    execFile(cli, args, { timeout: 30_000 }, (error, stdout, stderr) => {
      if (!error) return resolve();
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        return reject(
          new RedisUnavailableError(
            `Cannot create a Redis Cluster: "${cli}" was not found on the PATH. ${HOW_TO_GET_REDIS}`,
            {
              cause: error,
            },
          ),
        );
      }
      reject(
        new RedisStartError(
          `${cli} --cluster create failed: ${error.message}\n${stdout}${stderr}`,
          { cause: error },
        ),
      );
    });
  });
}

async function waitForClusterOk(nodes: readonly RedisAddress[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const pending = new Set(nodes);
  let last = '';
  while (pending.size > 0) {
    for (const node of [...pending]) {
      try {
        const info = String(await redisCommand(node, ['CLUSTER', 'INFO']));
        if (/cluster_state:ok/.test(info)) pending.delete(node);
        else last = `${node.port}: ${/cluster_state:\w+/.exec(info)?.[0] ?? info}`;
      } catch (error) {
        last = `${node.port}: ${(error as Error).message}`;
      }
    }
    if (pending.size === 0) break;
    if (Date.now() > deadline) {
      throw new RedisStartError(
        `Redis Cluster did not reach cluster_state:ok within ${timeoutMs} ms (last: ${last})`,
      );
    }
    await sleep(50);
  }
}
