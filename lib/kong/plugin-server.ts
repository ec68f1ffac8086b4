import { errorMessage } from '../ops/error-message.js';
import type { Logger } from '../ops/logger.js';
import { pdkFor, PdkError, type PdkChannel } from './pdk.js';
import { pluginInfo, withDefaults, type Phase, type PluginHandler, type PluginModule } from './plugin.js';
import type { Dispatch, Respond } from './rpc-socket.js';

/**
 * Kong's plugin-server RPC methods (StartInstance, HandleEvent, Step…), implemented here rather than
 * with kong-pdk 0.6.0's Server, which keeps every event that ends in kong.response.exit, expires
 * instances on a timer given seconds as milliseconds, and reports no instances in GetStatus.
 * Plugin code receives the PDK API of lib/kong/kong-pdk.ts (lib/kong/pdk.ts).
 */
export interface PluginServer {
  dispatch: Dispatch;
  /** Events waiting on Kong right now; 0 between requests. */
  eventCount(): number;
  /**
   * Events still in motion: being worked on here, or answered within `idleMs` (Kong answers a PDK call
   * in microseconds; an event idle longer was abandoned, e.g. after a PDK function raised in Kong).
   */
  liveEventCount(idleMs: number): number;
  instanceCount(): number;
  close(): void;
}

/** A kong.response.exit: status, body and headers exactly as Kong's exit takes them. */
export interface ExitAnswer {
  status: number;
  body: string;
  headers: Record<string, string>;
}

export interface PluginServerOptions {
  log: Logger;
  /** The answer to a request whose phase threw: Kong would let it through on "ret", so it gets this instead. */
  failedPhaseAnswer: () => ExitAnswer;
  /** Called when a phase has answered: `status` is the exit's HTTP status, or "continue". */
  onEventDone?: (plugin: string, phase: string, status: string, seconds: number) => void;
  instanceTtlMs: number;
  eventTtlMs: number;
  /** StartInstance is refused while this many instances are live. */
  maxInstances: number;
  now?: () => number;
}

interface Instance {
  id: number;
  plugin: PluginModule;
  /** The fields of the plugin's schema only: Kong's internal keys, or anything else sent, are not kept. */
  config: Record<string, unknown>;
  handler: PluginHandler;
  startTime: number;
  lastUsedAt: number;
}

const RET = 'ret';
// kong-pdk's NON_RETURN_METHODS: Kong yields the request's coroutine inside these and never resumes it.
const CONVERSATION_ENDERS = new Set(['kong.response.exit', 'kong.response.error']);
const NO_RESULT = Promise.resolve(undefined);
/** Bounds the method table: names learned from Kong (its typed Steps) are added up to this size. */
const MAX_METHODS = 32;
/** Kong's config of one of our plugins is well under 1 KB of JSON. */
const MAX_CONFIG_BYTES = 64 * 1024;
const NOT_A_CONFIG = 'plugin config refused: a JSON object in a string is expected, as Kong sends it';

/** StartInstance's Config: the JSON text Kong encodes the plugin entity's config as (absent: no settings). */
function parseConfig(raw: unknown): Record<string, unknown> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'string') throw new Error(NOT_A_CONFIG);
  const bytes = Buffer.byteLength(raw);
  if (bytes > MAX_CONFIG_BYTES) throw new Error(`plugin config of ${bytes} bytes refused: the limit is ${MAX_CONFIG_BYTES}`);
  let config: unknown;
  try {
    config = JSON.parse(raw);
  } catch {
    throw new Error(NOT_A_CONFIG);
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new Error(NOT_A_CONFIG);
  return config as Record<string, unknown>;
}

/**
 * One phase of one request. Kong's call (HandleEvent, then each Step) is answered straight from the
 * plugin's next PDK call, through `respond`; Kong's answer to that PDK call settles the plugin's await.
 */
class PluginEvent implements PdkChannel {
  /** Kong's call waiting for our next message; set while the plugin runs. */
  private respond: Respond | undefined;
  private pendingMethod = '';
  private onResult: ((result: unknown) => void) | undefined;
  private onError: ((error: unknown) => void) | undefined;

  constructor(
    readonly id: number,
    readonly plugin: string,
    readonly phase: string,
    readonly startedAt: number,
    public lastActivityAt: number,
    private readonly deliver: (event: PluginEvent, respond: Respond, message: unknown) => void,
  ) {}

  call(method: string, args: unknown[]): Promise<unknown> {
    this.send({ Method: method, Args: args });
    // As kong-pdk: the conversation is over (Kong never answers), the handler just carries on.
    if (CONVERSATION_ENDERS.has(method)) return NO_RESULT;
    this.pendingMethod = method;
    return new Promise((resolve, reject) => {
      this.onResult = resolve;
      this.onError = reject;
    });
  }

  /** The next thing Kong is told: a PDK call, "ret", or the safety net's exit. */
  send(message: unknown): void {
    const respond = this.respond;
    this.respond = undefined;
    if (respond) this.deliver(this, respond, message);
  }

  /** Kong's call (HandleEvent or a Step) that the plugin's next message answers. */
  answerWith(respond: Respond): void {
    this.respond = respond;
  }

  isWaitingOnKong(): boolean {
    return this.onResult !== undefined && this.respond === undefined;
  }

  resume(result: unknown, error: unknown): void {
    const resolve = this.onResult;
    const reject = this.onError;
    this.onResult = undefined;
    this.onError = undefined;
    if (error) reject?.(new PdkError(this.pendingMethod, error));
    else resolve?.(result);
  }
}

export function createPluginServer(plugins: PluginModule[], opts: PluginServerOptions): PluginServer {
  const now = opts.now ?? Date.now;
  const byName = new Map(plugins.map((plugin) => [plugin.Name, plugin]));
  const instances = new Map<number, Instance>();
  const events = new Map<number, PluginEvent>();
  // Kong keys instances by plugin entity and cannot see that we restarted: ids must never repeat across
  // restarts (Kong/kong#8370). Microseconds of the start time give each process its own range.
  let nextInstanceId = now() * 1000;
  let nextEventId = 1;
  const lastStart = new Map<string, number>();
  const lastClose = new Map<string, number>();

  const sweeper = setInterval(sweep, Math.min(opts.instanceTtlMs, opts.eventTtlMs, 10_000));
  sweeper.unref();

  function sweep(): void {
    const at = now();
    for (const [id, instance] of instances) if (at - instance.lastUsedAt > opts.instanceTtlMs) instances.delete(id);
    for (const [id, event] of events) if (event.isWaitingOnKong() && at - event.lastActivityAt > opts.eventTtlMs) events.delete(id);
  }

  function instanceOf(id: unknown): Instance {
    const instance = typeof id === 'number' ? instances.get(id) : undefined;
    // Kong matches this text: it forgets the instance, starts a new one and retries the event.
    if (!instance) throw new Error(`no plugin instance ${String(id)}`);
    return instance;
  }

  function pluginNamed(name: unknown): PluginModule {
    const plugin = typeof name === 'string' ? byName.get(name) : undefined;
    if (!plugin) throw new Error(`plugin ${String(name)} is not served here`);
    return plugin;
  }

  function instanceStatus(instance: Instance) {
    return { Name: instance.plugin.Name, Id: instance.id, Config: instance.config, StartTime: instance.startTime };
  }

  async function runPhase(instance: Instance, phase: Phase, event: PluginEvent): Promise<void> {
    const handler = instance.handler[phase];
    try {
      if (handler) await handler.call(instance.handler, pdkFor(event));
      event.send(RET);
    } catch (err) {
      // Kong would let the request through if we answered "ret": fail closed instead.
      opts.log.error({ 'event.action': `${instance.plugin.Name}.${phase}`, error: err }, 'plugin phase threw');
      const answer = opts.failedPhaseAnswer();
      event.send({ Method: 'kong.response.exit', Args: [answer.status, answer.body, answer.headers] });
    }
  }

  /** Answers Kong's call with the event's next message; "ret" or an exit retires the event. */
  function deliver(event: PluginEvent, respond: Respond, data: unknown): void {
    event.lastActivityAt = now();
    const call = data as { Method?: string; Args?: unknown[] } | null;
    const ended = data === RET ? 'continue' : CONVERSATION_ENDERS.has(call?.Method ?? '') ? String(call?.Args?.[0]) : undefined;
    if (ended !== undefined) {
      events.delete(event.id);
      opts.onEventDone?.(event.plugin, event.phase, ended, (performance.now() - event.startedAt) / 1000);
    }
    respond(null, { Data: data, EventId: event.id });
  }

  function step(params: unknown[], isError: boolean, respond: Respond): void {
    const { EventId, Data } = (params[0] ?? {}) as { EventId?: unknown; Data?: unknown };
    const event = typeof EventId === 'number' ? events.get(EventId) : undefined;
    if (!event) throw new Error(`event id ${String(EventId)} not found`);
    if (!event.isWaitingOnKong()) throw new Error(`event id ${EventId} is not waiting for a PDK result`);
    event.answerWith(respond);
    if (isError) event.resume(undefined, Data);
    else event.resume(Data, undefined);
  }

  function handleEvent([request]: unknown[], respond: Respond): void {
    const { InstanceId, EventName } = (request ?? {}) as { InstanceId?: unknown; EventName?: unknown };
    const instance = instanceOf(InstanceId);
    const { Name, Phases } = instance.plugin;
    // Also keeps the phase label of the event metrics to the plugins' phases.
    if (!Phases.includes(EventName as Phase))
      throw new Error(`${Name} has no phase ${JSON.stringify(EventName)}; its phases: ${Phases.join(', ')}`);
    instance.lastUsedAt = now();
    const event = new PluginEvent(nextEventId++, Name, EventName as Phase, performance.now(), instance.lastUsedAt, deliver);
    events.set(event.id, event);
    event.answerWith(respond);
    void runPhase(instance, EventName as Phase, event);
  }

  const methods: Record<string, (params: unknown[]) => Promise<unknown>> = {
    async GetStatus() {
      const status: Record<string, unknown> = {};
      for (const plugin of plugins) {
        status[plugin.Name] = {
          Name: plugin.Name,
          Instances: [...instances.values()].filter((i) => i.plugin === plugin).map(instanceStatus),
          LastStartInstance: lastStart.get(plugin.Name) ?? 0,
          LastCloseInstance: lastClose.get(plugin.Name) ?? 0,
        };
      }
      return { Pid: process.pid, Plugins: status, Events: events.size };
    },

    async GetPluginInfo([name]) {
      return pluginInfo(pluginNamed(name));
    },

    async StartInstance([request]) {
      const { Name, Config } = (request ?? {}) as { Name?: unknown; Config?: unknown };
      const plugin = pluginNamed(Name);
      if (instances.size >= opts.maxInstances) {
        throw new Error(
          `${instances.size} plugin instances are running, the most PLUGIN_MAX_INSTANCES allows; Kong starts one per plugin entity and worker`,
        );
      }
      const config = withDefaults(plugin.Schema, parseConfig(Config));
      const at = now();
      const instance: Instance = {
        id: nextInstanceId++,
        plugin,
        config,
        handler: new plugin.Plugin(config),
        startTime: at / 1000,
        lastUsedAt: at,
      };
      instances.set(instance.id, instance);
      lastStart.set(plugin.Name, at / 1000);
      opts.log.info(
        { 'event.action': 'instance-started', 'kong.plugin': plugin.Name, 'kong.instance_id': instance.id },
        'plugin instance started',
      );
      return instanceStatus(instance);
    },

    async InstanceStatus([id]) {
      return instanceStatus(instanceOf(id));
    },

    async CloseInstance([id]) {
      const instance = instanceOf(id);
      instances.delete(instance.id);
      lastClose.set(instance.plugin.Name, now() / 1000);
      return { Name: instance.plugin.Name, Id: instance.id, Config: instance.config };
    },
  };

  // The event's calls answer from the plugin's next message; the others once their promise settles.
  type Handler = (params: unknown[], respond: Respond) => void;
  const stepHandler: Handler = (params, respond) => step(params, false, respond);
  const byMethod = new Map<string, Handler>([
    ['plugin.HandleEvent', handleEvent],
    ['plugin.Step', stepHandler],
    ['plugin.StepError', (params, respond) => step(params, true, respond)],
    ...Object.entries(methods).map(([name, handler]): [string, Handler] => [
      `plugin.${name}`,
      (params, respond) =>
        void handler(params).then(
          (result) => respond(null, result),
          (err: unknown) => respond(errorMessage(err), null),
        ),
    ]),
  ]);

  function handlerFor(method: string): Handler {
    const [namespace, name] = method.split('.', 2);
    if (namespace !== 'plugin') throw new Error(`RPC for ${namespace} is not supported`);
    // Kong picks a typed Step per PDK method (StepMultiMap, StepConsumer…); all carry {EventId, Data}.
    if (name?.startsWith('Step')) return stepHandler;
    throw new Error(`method ${name} not implemented`);
  }

  return {
    dispatch(method, params, respond) {
      let handler = byMethod.get(method);
      if (!handler) {
        handler = handlerFor(method);
        // Kong's typed Steps are a handful of names: remembered, so that the next one is a single look-up.
        if (byMethod.size < MAX_METHODS) byMethod.set(method, handler);
      }
      return handler(params, respond);
    },
    eventCount: () => events.size,
    liveEventCount(idleMs) {
      const since = now() - idleMs;
      let live = 0;
      for (const event of events.values()) if (!event.isWaitingOnKong() || event.lastActivityAt > since) live++;
      return live;
    },
    instanceCount: () => instances.size,
    close: () => clearInterval(sweeper),
  };
}
