import type { Kong } from './plugin.js';

/**
 * kong-pdk's PDK surface for plugin code — `kong.request.getHeaders()` calls Kong's
 * `kong.request.get_headers` — built without kong-pdk's cost per property access (a new Proxy and a
 * regular expression each time): function names are converted once per path, and an event pays for
 * one small object per namespace it uses.
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
  kong: [
    'client',
    'cluster',
    'ctx',
    'enterprise_edition',
    'ip',
    'log',
    'nginx',
    'node',
    'plugin',
    'request',
    'response',
    'router',
    'service',
    'telemetry',
    'vault',
  ],
  'kong.client': ['tls'],
  'kong.ctx': ['shared'],
  'kong.enterprise_edition': ['jwe'],
  'kong.nginx': ['shared'],
  'kong.service': ['request', 'response'],
};

/** One namespace path (kong.service.request): what its objects' functions and children resolve to. */
class NamespacePath {
  /** Kong method names by the function name plugin code uses: getHeaders → kong.request.get_headers. */
  private readonly methods = new Map<string, string>();
  /** Child namespaces, by name: their path and their slot in a namespace object's `children`. */
  readonly children = new Map<string, { slot: number; path: NamespacePath }>();

  constructor(readonly path: string) {
    (CHILD_NAMESPACES[path] ?? []).forEach((name, slot) => this.children.set(name, { slot, path: new NamespacePath(`${path}.${name}`) }));
  }

  method(name: string): string {
    let method = this.methods.get(name);
    if (method === undefined) {
      method = `${this.path}.${snakeCase(name)}`;
      this.methods.set(name, method);
    }
    return method;
  }
}

/**
 * Every namespace object of every path has this one shape and one prototype, so the code that makes
 * them and calls through them always meets the same hidden class (one class per path made those
 * sites megamorphic: ~1 µs per event). The path tells a function its Kong method name.
 */
class Namespace {
  /** Child namespaces made for this event so far, by their slot in the path's children. */
  children: Namespace[] | undefined = undefined;

  constructor(
    readonly channel: PdkChannel,
    readonly at: NamespacePath,
  ) {}
}

/** camelCase to Kong's snake_case, as kong-pdk converts it: getHeaders → get_headers. */
function snakeCase(name: string): string {
  return name.replace(/[a-z][A-Z]/g, (pair) => `${pair[0]}_${pair.slice(1)}`.toLowerCase());
}

type PdkFunction = (this: Namespace, ...args: unknown[]) => Promise<unknown>;

/** The function every namespace has under `name`: the call goes to this namespace's path. */
function pdkFunction(name: string): PdkFunction {
  return function (this: Namespace, ...args: unknown[]) {
    return this.channel.call(this.at.method(name), args);
  };
}

/**
 * PDK functions are defined on the shared prototype on first use: a Proxy behind it sees each function
 * name once per process. A child namespace's name is a getter there: the child where the path has one
 * (made once per event), else a PDK function of that name, as kong-pdk would give.
 */
const functions = new Proxy(Object.create(null) as object, {
  get(_target, property) {
    // Not a PDK function: symbols (inspection) and `then`, so that a namespace is never taken for a promise.
    if (typeof property !== 'string' || property === 'then') return undefined;
    const fn = pdkFunction(property);
    Object.defineProperty(Namespace.prototype, property, { value: fn });
    return fn;
  },
});
Object.setPrototypeOf(Namespace.prototype, functions);
for (const name of new Set(Object.values(CHILD_NAMESPACES).flat())) {
  const asFunction = pdkFunction(name);
  Object.defineProperty(Namespace.prototype, name, {
    get(this: Namespace) {
      const child = this.at.children.get(name);
      if (!child) return asFunction;
      // Sized once: growing an empty array to a late slot allocated more than twice this.
      const children = (this.children ??= new Array<Namespace>(this.at.children.size));
      return (children[child.slot] ??= new Namespace(this.channel, child.path));
    },
  });
}

const KONG = new NamespacePath('kong');

/** The `kong` object one event's plugin code receives. */
export function pdkFor(channel: PdkChannel): Kong {
  return new Namespace(channel, KONG) as unknown as Kong;
}
