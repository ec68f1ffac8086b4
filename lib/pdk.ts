import type { Kong } from './plugin.js';

/**
 * kong-pdk's PDK surface for plugin code — `kong.request.getHeaders()` calls Kong's
 * `kong.request.get_headers` — built without kong-pdk's cost per property access (a new Proxy and a
 * regular expression each time): namespaces share one prototype each, function names are converted
 * once per process, and an event pays for one small object per namespace it uses.
 */
export interface PdkChannel {
  /** Sends Kong one PDK call; resolves with Kong's answer, or at once for the calls that end the conversation. */
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
  /** Child namespaces made for this event so far. */
  children: Record<string, PdkNode> | undefined;
}

type PdkFunction = (this: PdkNode, ...args: unknown[]) => Promise<unknown>;

/** camelCase to Kong's snake_case, as kong-pdk converts it: getHeaders → get_headers. */
function snakeCase(name: string): string {
  return name.replace(/[a-z][A-Z]/g, (pair) => `${pair[0]}_${pair.slice(1)}`.toLowerCase());
}

function pdkFunction(method: string): PdkFunction {
  return function (this: PdkNode, ...args: unknown[]) {
    return this.channel.call(method, args);
  };
}

/**
 * The prototype of one namespace's objects: a getter per child namespace (made once per event, then
 * kept in the event's object: a plain field, since defining a property per event cost more than the
 * rest of the getter), and PDK functions defined on first use — a Proxy behind the prototype sees each
 * function name once per process.
 */
function namespacePrototype(path: string): object {
  const functions = new Proxy(Object.create(null) as object, {
    get(_target, property) {
      // Not a PDK function: symbols (inspection) and `then`, so that a namespace is never taken for a promise.
      if (typeof property !== 'string' || property === 'then') return undefined;
      const fn = pdkFunction(`${path}.${snakeCase(property)}`);
      Object.defineProperty(prototype, property, { value: fn });
      return fn;
    },
  });
  const prototype = Object.create(functions) as object;
  for (const name of CHILD_NAMESPACES[path] ?? []) {
    const child = namespaceClass(`${path}.${name}`);
    Object.defineProperty(prototype, name, {
      get(this: PdkNode) {
        const children = (this.children ??= {});
        return (children[name] ??= new child(this.channel));
      },
    });
  }
  return prototype;
}

type NamespaceClass = new (channel: PdkChannel) => PdkNode;

/** One namespace's objects; its fields are class fields, so setting them never reaches the Proxy behind the prototype. */
function namespaceClass(path: string): NamespaceClass {
  class Namespace implements PdkNode {
    readonly channel: PdkChannel;
    children: Record<string, PdkNode> | undefined = undefined;
    constructor(channel: PdkChannel) {
      this.channel = channel;
    }
  }
  Object.setPrototypeOf(Namespace.prototype, namespacePrototype(path));
  return Namespace;
}

const KongNamespace = namespaceClass('kong');

/** The `kong` object one event's plugin code receives. */
export function pdkFor(channel: PdkChannel): Kong {
  return new KongNamespace(channel) as unknown as Kong;
}
