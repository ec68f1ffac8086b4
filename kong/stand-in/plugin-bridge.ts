import { CONVERSATION_ENDERS, exit, KongRaised, PDK_FUNCTIONS, stepMethodFor } from './kong-pdk.js';
import type { KongRequest } from './kong-request.js';
import type { MsgpackRpcClient } from './msgpack-rpc-client.js';

/** A configured plugin entity: one per route/service/global plugin in kong.yml. */
export interface PluginEntity {
  id: string;
  name: string;
  /** The config after Kong's schema validation filled the defaults. */
  config: Record<string, unknown>;
  /** Bumped when the config changes; Kong then starts a new instance and closes the old one. */
  seq: number;
  /** Where the plugin is configured; Kong adds these to the Config it sends. */
  scope: { route_id?: string; service_id?: string };
}

const DEFAULT_WORKSPACE_ID = '0dc6f45b-8f8d-40d2-a504-473544ee190b';

/** A test's hook to make Kong answer one PDK method with StepError (current Kong never does; the protocol allows it). */
export type PdkFaults = Record<string, string>;

interface HandleEventReply {
  EventId: number;
  Data: 'ret' | { Method: string; Args?: unknown[] };
}

/** Kong's bridge to an external plugin server (kong/runloop/plugin_servers). */
export class PluginBridge {
  private readonly instances = new Map<string, { id: number; seq: number }>();
  /** Every RPC sent, for tests that count round trips. */
  readonly calls: string[] = [];
  /** Every PDK method the plugin server asked Kong to run, in order. */
  readonly pdkCalls: string[] = [];

  constructor(private readonly rpc: Pick<MsgpackRpcClient, 'call'>) {}

  private async call<T>(method: string, ...params: unknown[]): Promise<T> {
    this.calls.push(method);
    return this.rpc.call<T>(method, ...params);
  }

  /** get_instance_id: StartInstance with the config as a JSON string; a StartInstance failure raises. */
  private async instanceId(entity: PluginEntity): Promise<number> {
    const known = this.instances.get(entity.id);
    if (known && known.seq === entity.seq) return known.id;
    // plugins_iterator.lua get_plugin_config adds these keys; unset ones (consumer_id…) are absent.
    const config = JSON.stringify({
      ...entity.config,
      ...entity.scope,
      __plugin_id: entity.id,
      __ws_id: DEFAULT_WORKSPACE_ID,
      __key__: `plugins:${entity.name}:${entity.scope.route_id ?? ''}:${entity.scope.service_id ?? ''}:::${DEFAULT_WORKSPACE_ID}`,
      __seq__: entity.seq,
    });
    let started: { Id: number };
    try {
      started = await this.call<{ Id: number }>('plugin.StartInstance', { Name: entity.name, Config: config });
    } catch (err) {
      this.instances.delete(entity.id);
      throw new KongRaised(`starting instance: ${(err as Error).message}`);
    }
    this.instances.set(entity.id, { id: started.Id, seq: entity.seq });
    if (known) await this.call('plugin.CloseInstance', known.id).catch(() => undefined);
    return started.Id;
  }

  /** handle_event: "no plugin instance" restarts and retries; any other RPC error is logged and the request goes on. */
  async handleEvent(entity: PluginEntity, phase: string, req: KongRequest, faults: PdkFaults = {}): Promise<void> {
    // Kong retries without a limit (Kong/kong#12364); a bound keeps a broken server from hanging a test.
    for (let attempt = 0; attempt < 20; attempt++) {
      const instanceId = await this.instanceId(entity);
      try {
        await this.bridgeLoop(instanceId, phase, req, faults);
        return;
      } catch (err) {
        if (err instanceof KongRaised) throw err;
        const message = (err as Error).message;
        if (message.toLowerCase().includes('no plugin instance')) {
          req.kongLog('warn', message);
          this.instances.delete(entity.id);
          continue;
        }
        req.kongLog('err', message);
        return;
      }
    }
    throw new Error('no plugin instance: retried 20 times');
  }

  private async bridgeLoop(instanceId: number, phase: string, req: KongRequest, faults: PdkFaults): Promise<void> {
    let reply = await this.call<HandleEventReply>('plugin.HandleEvent', { InstanceId: instanceId, EventName: phase });
    while (reply.Data !== 'ret') {
      const { Method, Args = [] } = reply.Data;
      this.pdkCalls.push(Method);
      if (CONVERSATION_ENDERS.has(Method)) {
        exit(req, Method === 'kong.response.error' ? errorArgs(Args) : Args);
        return;
      }
      // Test hook: current Kong never sends StepError (call_pdk_method keeps only the first return
      // value), but the protocol has it and kong-pdk turns it into an exception inside the handler.
      const fault = faults[Method];
      if (fault !== undefined) {
        reply = await this.call<HandleEventReply>('plugin.StepError', { EventId: reply.EventId, Data: fault });
        continue;
      }
      const pdk = PDK_FUNCTIONS[Method];
      let result: unknown;
      if (pdk) result = pdk(req, Args);
      else req.kongLog('err', `could not find pdk method: ${Method}`);
      // A nil result leaves Data out of the Lua table, so the map Kong sends has no Data key at all.
      const step = result === undefined || result === null ? { EventId: reply.EventId } : { EventId: reply.EventId, Data: result };
      reply = await this.call<HandleEventReply>(stepMethodFor(Method), step);
    }
  }
}

/** kong.response.error(status, message, headers) answers Kong's default error body. */
function errorArgs([status, message, headers]: unknown[]): unknown[] {
  return [status, { message: message ?? 'An unexpected error occurred' }, headers];
}
