import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { JwtAlgorithm, KongYml } from './kong-yml.js';

/** A row of Kong's `consumers` table. Absent optional fields are null, as Kong returns them. */
export interface StoredConsumer {
  id: string;
  username: string | null;
  custom_id: string | null;
  tags: string[] | null;
  /** Unix seconds (integer), like Kong's auto_timestamp_s. */
  created_at: number;
  updated_at: number;
}

export interface StoredKeyAuthCredential {
  id: string;
  consumerId: string;
  key: string;
  tags: string[] | null;
  created_at: number;
}

/** A row of Kong's `basicauth_credentials`: the password as Kong keeps it, sha1(password .. consumer id) in hex. */
export interface StoredBasicAuthCredential {
  id: string;
  consumerId: string;
  username: string;
  password: string;
  tags: string[] | null;
  created_at: number;
}

export interface NewBasicAuthCredential {
  id?: string;
  username: string;
  /** In clear; stored hashed. */
  password: string;
  tags?: string[];
}

export interface StoredJwtCredential {
  id: string;
  consumerId: string;
  key: string;
  secret: string;
  algorithm: JwtAlgorithm;
  rsa_public_key: string | null;
  tags: string[] | null;
  created_at: number;
}

export interface NewConsumer {
  id?: string;
  username?: string;
  custom_id?: string;
  tags?: string[];
  created_at?: number;
}

export interface NewKeyAuthCredential {
  id?: string;
  /** Generated like Kong's `auto = true` strings when omitted. */
  key?: string;
  tags?: string[];
  created_at?: number;
}

export interface NewJwtCredential {
  id?: string;
  /** Generated like Kong's `auto = true` strings when omitted. */
  key?: string;
  secret?: string;
  algorithm?: JwtAlgorithm;
  rsa_public_key?: string;
  tags?: string[];
  /** Unix seconds; defaults to now. Pass it to control ordering in tests. */
  created_at?: number;
}

/**
 * A unique or primary-key constraint refused a write. `field`/`value` name the
 * clashing column, which the fake Admin API turns into Kong's 409 / 400 bodies.
 */
export class KongStoreConflictError extends Error {
  constructor(
    readonly constraint: 'unique' | 'primary_key',
    readonly field: string,
    readonly value: string,
  ) {
    super(`${constraint === 'unique' ? 'UNIQUE' : 'PRIMARY KEY'} violation on ${field}=${JSON.stringify(value)}`);
    this.name = 'KongStoreConflictError';
  }
}

export class KongStoreNotFoundError extends Error {
  constructor(what: string, idOrKey: string) {
    super(`${what} ${JSON.stringify(idOrKey)} not found`);
    this.name = 'KongStoreNotFoundError';
  }
}

export interface KongStore {
  addConsumer(input: NewConsumer): StoredConsumer;
  addKeyAuthCredential(consumerIdOrUsername: string, input?: NewKeyAuthCredential): StoredKeyAuthCredential;
  addBasicAuthCredential(consumerIdOrUsername: string, input: NewBasicAuthCredential): StoredBasicAuthCredential;
  /** Throws KongStoreConflictError when the key (or id) is taken, KongStoreNotFoundError for an unknown consumer. */
  addJwtCredential(consumerIdOrUsername: string, input?: NewJwtCredential): StoredJwtCredential;
  /** Adds the consumer to an acl group; Kong's (consumer, group) cache key makes a second membership a conflict. */
  addAclGroup(consumerIdOrUsername: string, group: string): void;
  rotateJwtSecret(credentialId: string, newSecret: string): StoredJwtCredential;
  /** True when a credential was removed. */
  removeJwtCredential(credentialId: string): boolean;
  /** Deletes the consumer with its credentials and acl groups, as Kong's cascade does; true when one was removed. */
  removeConsumer(idOrUsername: string): boolean;
  /** PATCH /consumers/{id}: a new username (unique, as Kong's) or tags. Throws KongStoreNotFoundError for an unknown consumer. */
  updateConsumer(idOrUsername: string, changes: { username?: string; tags?: string[] }): StoredConsumer;

  /** Kong's rule: a UUID-shaped value is looked up as an id only, anything else as a username. */
  consumerByIdOrUsername(idOrUsername: string): StoredConsumer | undefined;
  consumerByKeyAuthKey(key: string): StoredConsumer | undefined;
  /** basicauth_credentials:select_by_username. */
  basicAuthCredentialByUsername(username: string): StoredBasicAuthCredential | undefined;
  /** In insertion order; the Admin API decides the order it lists them in. */
  jwtCredentialsOf(consumerId: string): StoredJwtCredential[];
  /** Kong's rule again: UUID-shaped means id, anything else means key. */
  jwtCredentialByKeyOrId(keyOrId: string): StoredJwtCredential | undefined;
  /** The groups of the consumer's acls, in insertion order; empty when it has none. */
  aclGroupsOf(consumerId: string): string[];
  consumers(): StoredConsumer[];
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}

export function nowInSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/**
 * Kong's `random_string()` (kong/tools/rand.lua): 24 random bytes in base64,
 * with '/' and '+' swapped for letters, giving 32 alphanumeric characters.
 */
export function kongRandomString(): string {
  return randomBytes(24)
    .toString('base64')
    .replace(/[/+]/g, (char) => (char === '/' ? randomLetter('A') : randomLetter('a')));
}

function randomLetter(first: 'A' | 'a'): string {
  return String.fromCharCode(first.charCodeAt(0) + ((randomBytes(1)[0] ?? 0) % 26));
}

/** kong/plugins/basic-auth/crypto.lua: the password salted with the consumer id, sha1, hex. */
export function basicAuthDigest(consumerId: string, password: string): string {
  return createHash('sha1').update(`${password}${consumerId}`).digest('hex');
}

export function createKongStore(): KongStore {
  const consumers = new Map<string, StoredConsumer>();
  const keyAuthCredentials = new Map<string, StoredKeyAuthCredential>();
  const jwtCredentials = new Map<string, StoredJwtCredential>();
  const basicAuthCredentials = new Map<string, StoredBasicAuthCredential>();
  const aclGroups = new Map<string, string[]>();

  function requireConsumer(idOrUsername: string): StoredConsumer {
    const consumer = findConsumer(idOrUsername);
    if (consumer === undefined) throw new KongStoreNotFoundError('consumer', idOrUsername);
    return consumer;
  }

  function findConsumer(idOrUsername: string): StoredConsumer | undefined {
    if (isUuid(idOrUsername)) return consumers.get(idOrUsername.toLowerCase());
    return [...consumers.values()].find((consumer) => consumer.username === idOrUsername);
  }

  function requireJwtCredential(credentialId: string): StoredJwtCredential {
    const credential = jwtCredentials.get(credentialId.toLowerCase());
    if (credential === undefined) throw new KongStoreNotFoundError('jwt credential', credentialId);
    return credential;
  }

  function claimId<T>(table: Map<string, T>, id: string | undefined): string {
    const claimed = (id ?? randomUUID()).toLowerCase();
    if (!isUuid(claimed)) throw new TypeError(`id must be a UUID, got ${JSON.stringify(id)}`);
    if (table.has(claimed)) throw new KongStoreConflictError('primary_key', 'id', claimed);
    return claimed;
  }

  function claimUnique<T>(rows: Iterable<T>, field: keyof T & string, value: string | null): void {
    if (value === null) return;
    for (const row of rows) {
      if (row[field] === value) throw new KongStoreConflictError('unique', field, value);
    }
  }

  return {
    addConsumer(input) {
      if (input.username === undefined && input.custom_id === undefined) throw new TypeError('a consumer needs a username or a custom_id');
      const id = claimId(consumers, input.id);
      claimUnique(consumers.values(), 'username', input.username ?? null);
      claimUnique(consumers.values(), 'custom_id', input.custom_id ?? null);
      const createdAt = input.created_at ?? nowInSeconds();
      const consumer: StoredConsumer = {
        id,
        username: input.username ?? null,
        custom_id: input.custom_id ?? null,
        tags: input.tags ? [...input.tags] : null,
        created_at: createdAt,
        updated_at: createdAt,
      };
      consumers.set(id, consumer);
      return copy(consumer);
    },

    addKeyAuthCredential(consumerIdOrUsername, input = {}) {
      const consumer = requireConsumer(consumerIdOrUsername);
      const id = claimId(keyAuthCredentials, input.id);
      const key = input.key ?? kongRandomString();
      claimUnique(keyAuthCredentials.values(), 'key', key);
      const credential: StoredKeyAuthCredential = {
        id,
        consumerId: consumer.id,
        key,
        tags: input.tags ? [...input.tags] : null,
        created_at: input.created_at ?? nowInSeconds(),
      };
      keyAuthCredentials.set(id, credential);
      return copy(credential);
    },

    addBasicAuthCredential(consumerIdOrUsername, input) {
      const consumer = requireConsumer(consumerIdOrUsername);
      const id = claimId(basicAuthCredentials, input.id);
      claimUnique(basicAuthCredentials.values(), 'username', input.username);
      const credential: StoredBasicAuthCredential = {
        id,
        consumerId: consumer.id,
        username: input.username,
        password: basicAuthDigest(consumer.id, input.password),
        tags: input.tags ? [...input.tags] : null,
        created_at: nowInSeconds(),
      };
      basicAuthCredentials.set(id, credential);
      return copy(credential);
    },

    addJwtCredential(consumerIdOrUsername, input = {}) {
      const consumer = requireConsumer(consumerIdOrUsername);
      const key = input.key ?? kongRandomString();
      claimUnique(jwtCredentials.values(), 'key', key);
      const id = claimId(jwtCredentials, input.id);
      const credential: StoredJwtCredential = {
        id,
        consumerId: consumer.id,
        key,
        secret: input.secret ?? kongRandomString(),
        algorithm: input.algorithm ?? 'HS256',
        rsa_public_key: input.rsa_public_key ?? null,
        tags: input.tags ? [...input.tags] : null,
        created_at: input.created_at ?? nowInSeconds(),
      };
      jwtCredentials.set(id, credential);
      return copy(credential);
    },

    addAclGroup(consumerIdOrUsername, group) {
      const consumer = requireConsumer(consumerIdOrUsername);
      const groups = aclGroups.get(consumer.id) ?? [];
      if (groups.includes(group)) throw new KongStoreConflictError('unique', 'group', group);
      aclGroups.set(consumer.id, [...groups, group]);
    },

    rotateJwtSecret(credentialId, newSecret) {
      const credential = requireJwtCredential(credentialId);
      credential.secret = newSecret;
      return copy(credential);
    },

    removeJwtCredential(credentialId) {
      return jwtCredentials.delete(credentialId.toLowerCase());
    },

    updateConsumer(idOrUsername, changes) {
      const consumer = requireConsumer(idOrUsername);
      if (changes.username !== undefined && changes.username !== consumer.username) {
        claimUnique(consumers.values(), 'username', changes.username);
        consumer.username = changes.username;
      }
      if (changes.tags !== undefined) consumer.tags = [...changes.tags];
      consumer.updated_at = nowInSeconds();
      return copy(consumer);
    },

    removeConsumer(idOrUsername) {
      const consumer = findConsumer(idOrUsername);
      if (consumer === undefined) return false;
      for (const table of [keyAuthCredentials, jwtCredentials, basicAuthCredentials]) {
        for (const [id, credential] of table) if (credential.consumerId === consumer.id) table.delete(id);
      }
      aclGroups.delete(consumer.id);
      return consumers.delete(consumer.id);
    },

    consumerByIdOrUsername(idOrUsername) {
      const consumer = findConsumer(idOrUsername);
      return consumer && copy(consumer);
    },

    consumerByKeyAuthKey(key) {
      const credential = [...keyAuthCredentials.values()].find((candidate) => candidate.key === key);
      const consumer = credential && consumers.get(credential.consumerId);
      return consumer && copy(consumer);
    },

    basicAuthCredentialByUsername(username) {
      const credential = [...basicAuthCredentials.values()].find((candidate) => candidate.username === username);
      return credential && copy(credential);
    },

    jwtCredentialsOf(consumerId) {
      return [...jwtCredentials.values()].filter((credential) => credential.consumerId === consumerId.toLowerCase()).map(copy);
    },

    jwtCredentialByKeyOrId(keyOrId) {
      const credential = isUuid(keyOrId)
        ? jwtCredentials.get(keyOrId.toLowerCase())
        : [...jwtCredentials.values()].find((candidate) => candidate.key === keyOrId);
      return credential && copy(credential);
    },

    aclGroupsOf(consumerId) {
      return [...(aclGroups.get(consumerId.toLowerCase()) ?? [])];
    },

    consumers() {
      return [...consumers.values()].map(copy);
    },
  };
}

/** Loads a decK file's consumers, their key-auth, basic-auth and jwt credentials and their acl groups; services, routes and plugins are not stored. */
export function seedFromKongYml(store: KongStore, yml: KongYml): void {
  for (const consumer of yml.consumers) {
    const stored = store.addConsumer({ id: consumer.id, username: consumer.username, custom_id: consumer.custom_id, tags: consumer.tags });
    for (const credential of consumer.keyauth_credentials) {
      store.addKeyAuthCredential(stored.id, { id: credential.id, key: credential.key, tags: credential.tags });
    }
    for (const credential of consumer.basicauth_credentials) {
      store.addBasicAuthCredential(stored.id, {
        id: credential.id,
        username: credential.username,
        password: credential.password,
        tags: credential.tags,
      });
    }
    for (const secret of consumer.jwt_secrets) {
      store.addJwtCredential(stored.id, {
        id: secret.id,
        key: secret.key,
        secret: secret.secret,
        algorithm: secret.algorithm,
        rsa_public_key: secret.rsa_public_key,
        tags: secret.tags,
      });
    }
    for (const acl of consumer.acls) store.addAclGroup(stored.id, acl.group);
  }
}

/** Callers get copies so they cannot change the store behind its back. */
function copy<T>(row: T): T {
  return structuredClone(row);
}
