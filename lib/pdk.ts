import type { Kong } from './plugin.js';

/**
 * kong-pdk's PDK surface for plugin code — `kong.request.getHeaders()` calls Kong's
 * `kong.request.get_headers` — built without kong-pdk's cost per property access (a new Proxy and a
 * regular expression each time): namespaces share one prototype each, function names are converted
 * once per process, and an event pays for one small object per namespace it uses.
 */
export interface PdkChannel {
  /** Sends Kong one PDK call; resolves with Kong's answer (never, for the calls that end the conversation). */
  call(method: string, args: unknown[]): Promise<unknown>;
}

/** What a failed PDK call throws, as kong-pdk's PDKError does (same name and message). */
export class PdkError extends Error {
  constructor(method: string, error: unknown) {
    super(`PDK method ${method} failed:  ${String(error)}`);
  }

  override get name(): string {
    return 'PDKError';
  }
}

// kong-pdk 0.6.0's namespaces (kong-pdk/kong/**/*.d.ts); every other property is a PDK function.
const CHILD_NAMESPACES: Record<string, readonly string[]> = {
  kong: ['client', 'cluster', 'ctx', 'enterprise_edition', 'ip', 'log', 'nginx', 'node', 'plugin', 'request', 'response', 'router', 'service', 'telemetry', 'vault'],
  'kong.client': ['tls'],
  'kong.ctx': ['shared'],
  'kong.enterprise_edition': ['jwe'],
  'kong.nginx': ['shared'],
  'kong.service': ['request', 'response'],
};

interface PdkNode {
  readonly channel: PdkChannel;
}

type PdkFunction = (this: PdkNode, ...args: unknown[]) => Promise<unknown>;

/** camelCase to Kong's snake_case, as kong-pdk converts it: getHeaders → get_headers. */
function snakeCase(name: string): string {
  return name.replace(/[a-z][A-Z]/g, (pair) => `${pair[0]}_${pair.slice(1)}`.toLowerCase());
}

const functions = new Map<string, PdkFunction>();

function pdkFunction(namespace: string, property: string): PdkFunction {
  const key = `${namespace}.${property}`;
  let fn = functions.get(key);
  if (!fn) {
    const method = `${namespace}.${snakeCase(property)}`;
    fn = function (this: PdkNode, ...args: unknown[]) {
      return this.channel.call(method, args);
    };
    functions.set(key, fn);
  }
  return fn;
}

function namespacePrototype(path: string): object {
  const children = new Map((CHILD_NAMESPACES[path] ?? []).map((name) => [name, namespacePrototype(`${path}.${name}`)]));
  return new Proxy(Object.create(null) as object, {
    get(_target, property, receiver: PdkNode) {
      // Not a PDK function: symbols (inspection) and `then`, so that a namespace is never taken for a promise.
      if (typeof property !== 'string' || property === 'then') return undefined;
      const child = children.get(property);
      if (!child) return pdkFunction(path, property);
      const node = Object.create(child) as PdkNode;
      Object.defineProperty(node, 'channel', { value: receiver.channel });
      // Kept on the parent: the next access to the namespace within this event reuses it.
      Object.defineProperty(receiver, property, { value: node });
      return node;
    },
  });
}

const KONG_PROTOTYPE = namespacePrototype('kong');

/** The `kong` object one event's plugin code receives. */
export function pdkFor(channel: PdkChannel): Kong {
  const kong = Object.create(KONG_PROTOTYPE) as PdkNode;
  Object.defineProperty(kong, 'channel', { value: channel });
  return kong as unknown as Kong;
}
