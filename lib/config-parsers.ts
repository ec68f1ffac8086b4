import { existsSync, readFileSync, statSync } from 'node:fs';
import { ENCRYPTION_KEY_FORM, parseEncryptionKey } from './credentials/secret-cipher.js';

/** How the text of one environment variable (trimmed, never empty) becomes a value. */
export interface Parser<T> {
  /**
   * What the variable takes, as its error says it (`code` leaves literals as they are) and as its row of
   * docs/configuration.md begins (`code` marks them up); none when any text is taken.
   */
  readonly allowed?: (code: (literal: string) => string) => string;
  /** undefined: the text is not one of the allowed values. */
  parse(raw: string): T | undefined;
}

export const text: Parser<string> = { parse: (raw) => raw };

function inRange(noun: string, form: RegExp, min: number, max: number): Parser<number> {
  return {
    allowed: () => `${noun} from ${min} to ${max}`,
    parse(raw) {
      const value = Number(raw);
      return form.test(raw) && value >= min && value <= max ? value : undefined;
    },
  };
}

export const integer = (min: number, max: number): Parser<number> => inRange('an integer', /^-?\d+$/, min, max);

export const decimal = (min: number, max: number): Parser<number> => inRange('a number', /^\d+(\.\d+)?$/, min, max);

/** A number between 0 and 1, in any form Number() reads (`.5`, `1e-3`). */
export function fraction(ends: 'inclusive' | 'exclusive'): Parser<number> {
  const inclusive = ends === 'inclusive';
  return {
    allowed: () => (inclusive ? 'a number from 0 to 1' : 'a number between 0 and 1 (exclusive)'),
    parse(raw) {
      const value = Number(raw);
      if (!Number.isFinite(value)) return undefined;
      return (inclusive ? value >= 0 && value <= 1 : value > 0 && value < 1) ? value : undefined;
    },
  };
}

export function oneOf<T extends string>(values: readonly T[]): Parser<T> {
  return {
    allowed: (code) => `one of ${values.map(code).join(', ')}`,
    parse: (raw) => ((values as readonly string[]).includes(raw) ? (raw as T) : undefined),
  };
}

function urlOf(protocols: readonly string[], allowed: Parser<string>['allowed'], normalize: (raw: string) => string): Parser<string> {
  return {
    allowed,
    parse(raw) {
      let protocol: string;
      try {
        protocol = new URL(raw).protocol;
      } catch {
        return undefined;
      }
      return protocols.includes(protocol) ? normalize(raw) : undefined;
    },
  };
}

/** Trailing slashes are dropped: paths are appended to it. */
export const httpUrl = urlOf(
  ['http:', 'https:'],
  (code) => `an ${code('http://')} or ${code('https://')} URL`,
  (raw) => raw.replace(/\/+$/, ''),
);

export const redisUrl = urlOf(
  ['redis:', 'rediss:'],
  (code) => `a ${code('redis://')} or ${code('rediss://')} URL`,
  (raw) => raw,
);

export const hostPorts: Parser<Array<{ host: string; port: number }>> = {
  allowed: (code) => `a comma-separated list of ${code('host:port')}`,
  parse(raw) {
    const list = raw.split(',').map((item) => {
      const match = /^\s*(\[[^\]]+\]|[^:\s]+):(\d{1,5})\s*$/.exec(item);
      const port = Number(match?.[2]);
      return match && port >= 1 && port <= 65535 ? { host: (match[1] as string).replace(/^\[|\]$/g, ''), port } : undefined;
    });
    return list.every((item) => item !== undefined) ? (list as Array<{ host: string; port: number }>) : undefined;
  },
};

export const existingFile: Parser<string> = {
  allowed: () => 'the path of a readable file',
  parse: (raw) => (existsSync(raw) ? raw : undefined),
};

export const existingDirectory: Parser<string> = {
  allowed: () => 'the path of a directory',
  parse: (raw) => (existsSync(raw) && statSync(raw).isDirectory() ? raw : undefined),
};

/** Connecting to a Unix socket takes write permission: world-writable would let any local user speak to us as Kong. */
export const socketMode: Parser<number> = {
  allowed: (code) => `an octal mode giving the owner read-write and others no write, e.g. ${code('0660')}`,
  parse(raw) {
    const mode = /^0?[0-7]{3}$/.test(raw) ? parseInt(raw, 8) : 0;
    return (mode & 0o600) === 0o600 && (mode & 0o002) === 0 ? mode : undefined;
  },
};

/** A numeric gid, or a group name looked up in /etc/group. */
export const groupId: Parser<number> = {
  allowed: (code) => `a numeric gid or a group name from ${code('/etc/group')}`,
  parse(raw) {
    if (/^\d{1,10}$/.test(raw) && Number(raw) < 2 ** 32 - 1) return Number(raw);
    let groups = '';
    try {
      groups = readFileSync('/etc/group', 'utf8');
    } catch {
      // No group file: only numeric gids can be given.
    }
    const gid = groups
      .split('\n')
      .map((line) => line.split(':'))
      .find(([group]) => group === raw)?.[2];
    return gid !== undefined && /^\d+$/.test(gid) ? Number(gid) : undefined;
  },
};

export const encryptionKey: Parser<Buffer> = {
  allowed: () => ENCRYPTION_KEY_FORM,
  parse(raw) {
    try {
      return parseEncryptionKey(raw);
    } catch {
      return undefined;
    }
  },
};

/** OTEL_RESOURCE_ATTRIBUTES' form: values percent-encoded. */
export const keyValues: Parser<Record<string, string>> = {
  allowed: (code) => `comma-separated ${code('key=value')} pairs`,
  parse(raw) {
    const out: Record<string, string> = {};
    for (const pair of raw.split(',')) {
      const at = pair.indexOf('=');
      if (at < 1) return undefined;
      try {
        out[pair.slice(0, at).trim()] = decodeURIComponent(pair.slice(at + 1).trim());
      } catch {
        return undefined; // a stray % that is no escape
      }
    }
    return out;
  },
};
