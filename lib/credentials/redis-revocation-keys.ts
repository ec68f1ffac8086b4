import type { Redis } from 'ioredis';

/** One revocation, as a Redis key holds it and as the revocation channel carries it. */
export type Revocation = { kind: 'token'; jti: string; exp: number } | { kind: 'consumer'; consumerId: string; beforeMs: number };

/** Where revocations live in Redis and how they travel between sidecars. */
export interface RevocationKeys {
  /** `<prefix>{revocations}:jti:<jti>`, value: the token's `exp` (s). */
  token(jti: string): string;
  /** `<prefix>{revocations}:before:<consumer id>`, value: the mark (ms). */
  consumer(consumerId: string): string;
  /** `<prefix>revocations`: every recorded revocation is published here. */
  readonly channel: string;
  /** The SCAN MATCH pattern of every revocation key. */
  readonly pattern: string;
  /** The revocation a key and its value stand for; undefined for a gone key or a value that is not ours. */
  parse(key: string, value: string | null): Revocation | undefined;
}

/** Keys per SCAN step and per MGET. */
const SCAN_COUNT = 1000;

export function revocationKeys(prefix: string): RevocationKeys {
  // One hash tag on every key: in Redis Cluster they all live in one slot, so multi-key commands work.
  const base = `${prefix}{revocations}:`;
  const tokenBase = `${base}jti:`;
  const consumerBase = `${base}before:`;
  return {
    token: (jti) => tokenBase + jti,
    consumer: (consumerId) => consumerBase + consumerId,
    channel: `${prefix}revocations`,
    pattern: `${base.replace(/[*?[\]\\]/g, '\\$&')}*`,
    parse(key, value) {
      if (value === null) return undefined;
      if (key.startsWith(tokenBase)) return revocationOf({ jti: key.slice(tokenBase.length), exp: Number(value) });
      if (key.startsWith(consumerBase)) return revocationOf({ consumer: key.slice(consumerBase.length), before: Number(value) });
      return undefined;
    },
  };
}

export function encodeRevocation(revocation: Revocation): string {
  return JSON.stringify(
    revocation.kind === 'token'
      ? { jti: revocation.jti, exp: revocation.exp }
      : { consumer: revocation.consumerId, before: revocation.beforeMs },
  );
}

/** A channel message back into a revocation; undefined for anything that is not one of ours. */
export function decodeRevocation(message: string): Revocation | undefined {
  try {
    return revocationOf(JSON.parse(message));
  } catch {
    return undefined;
  }
}

function revocationOf(fields: unknown): Revocation | undefined {
  if (typeof fields !== 'object' || fields === null) return undefined;
  const { jti, exp, consumer, before } = fields as Record<string, unknown>;
  if (isId(jti) && isTime(exp)) return { kind: 'token', jti, exp };
  if (isId(consumer) && isTime(before)) return { kind: 'consumer', consumerId: consumer, beforeMs: before };
  return undefined;
}

const isId = (value: unknown): value is string => typeof value === 'string' && value.length > 0;
const isTime = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value > 0;

/**
 * Every revocation the nodes hold: a SCAN over each node, each batch's values read with one MGET on the
 * node that returned it (all keys share one slot, so that node holds them all).
 */
export async function readRevocations(nodes: Redis[], keys: RevocationKeys): Promise<Revocation[]> {
  const found: Revocation[] = [];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', keys.pattern, 'COUNT', SCAN_COUNT);
      cursor = next;
      if (batch.length === 0) continue;
      const values = await node.mget(...batch);
      batch.forEach((key, i) => {
        const revocation = keys.parse(key, values[i] ?? null);
        if (revocation) found.push(revocation);
      });
    } while (cursor !== '0');
  }
  return found;
}
