import { join } from 'node:path';
import { tokenIssuer } from '../plugins/token-issuer.js';
import { tokenValidator } from '../plugins/token-validator.js';
import { tokenRevocation } from '../plugins/token-revocation.js';
import { loadConfig } from './config.js';
import { createContext } from './context.js';
import { fitGcToCpus } from './cpu-budget.js';
import { createLogger } from './ops/logger.js';
import { batchedLogOutput } from './ops/log-output.js';
import { publishPluginInfo } from './plugin-catalog.js';
import { failedPhaseAnswer } from './access/problem.js';
import { createPluginServer } from './kong/plugin-server.js';
import { listenRpcSocket, type RpcSocketServer } from './kong/rpc-socket.js';
import { startStatusServer, type StatusServer } from './ops/status-server.js';
import { createStatusViews, revocationStats } from './status-views.js';
import { VERSION } from './version.js';

const DRAIN_POLL_MS = 20;
/** An event Kong has not stepped for this long is abandoned and does not hold the drain. */
const ABANDONED_EVENT_MS = 1000;

/**
 * The main job: plugin socket + status port, and a lifecycle that drains. SIGTERM/SIGINT: readiness
 * 503 at once, no new connections, in-flight events finish, then the socket, the status port and Redis
 * close and the process exits 0 — or 1 when SHUTDOWN_TIMEOUT_MS passes first. A second signal exits at once.
 */
export async function serve(socketDir: string, socketName: string): Promise<void> {
  const startedAt = Date.now();
  const gc = fitGcToCpus();
  const config = loadConfig();
  const logOutput = batchedLogOutput();
  const log = createLogger({ level: config.logLevel, serviceVersion: VERSION, destination: logOutput.stream });
  const ctx = await createContext(config, log);
  const pluginServer = createPluginServer([tokenIssuer(ctx), tokenValidator(ctx), tokenRevocation(ctx)], {
    log,
    failedPhaseAnswer,
    instanceTtlMs: config.pluginInstanceTtlSeconds * 1000,
    eventTtlMs: config.eventTtlSeconds * 1000,
    maxInstances: config.pluginMaxInstances,
    onEventDone: (plugin, phase, status, seconds) => ctx.metrics.event(plugin, phase, status, seconds),
  });

  let socket: RpcSocketServer | undefined;
  let status: StatusServer | undefined;
  let draining = false;
  const pluginServerState = () => ({
    events: pluginServer.eventCount(),
    instances: pluginServer.instanceCount(),
    connections: socket?.connectionCount() ?? 0,
  });
  ctx.metrics.watch({
    credentials: () => ctx.credentials.stats(),
    redisLayers: () => ctx.redis?.cache.stats(),
    redisConnection: () => (ctx.redis ? { connected: ctx.redis.connection.isReady(), ...ctx.redis.connection.stats() } : undefined),
    breakerState: () => ctx.admin.breakerState(),
    pluginServer: pluginServerState,
    droppedLogLines: logOutput.dropped,
    signingKeys: () => ctx.signingKeys?.stats(),
    revocations: () => revocationStats(ctx),
    remoteJwks: () => ctx.remoteJwks.stats(),
  });

  const stop = async (reason: string, exitCode: 0 | 1): Promise<void> => {
    if (draining) {
      log.warn({ 'event.action': 'stop-forced', reason }, 'second stop request: exiting now');
      process.exit(1);
    }
    draining = true;
    log.info(
      { 'event.action': 'draining', reason, 'kong.in_flight_events': pluginServer.eventCount() },
      'draining: readiness is 503, no new connections',
    );
    const deadline = setTimeout(() => {
      log.error(
        { 'event.action': 'stop-timeout', 'kong.in_flight_events': pluginServer.eventCount() },
        `in-flight events did not finish within ${config.shutdownTimeoutMs} ms`,
      );
      process.exit(1);
    }, config.shutdownTimeoutMs);
    deadline.unref();
    socket?.stopAccepting();
    while (pluginServer.liveEventCount(ABANDONED_EVENT_MS) > 0 || (socket?.inFlightCalls() ?? 0) > 0)
      await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
    await socket?.close();
    pluginServer.close();
    await status?.close();
    await ctx.close();
    log.info({ 'event.action': 'stopped', reason }, 'plugin server stopped');
    process.exit(exitCode);
  };
  // Installed before listening: the kernel accepts connections (and a supervisor may signal us) as
  // soon as the socket is bound, before the listen callback runs.
  process.on('SIGTERM', () => void stop('SIGTERM', 0));
  process.on('SIGINT', () => void stop('SIGINT', 0));
  process.on('unhandledRejection', (reason) => {
    ctx.metrics.unhandled('rejection');
    log.error({ 'event.action': 'unhandled-rejection', error: reason }, 'unhandled promise rejection');
  });
  process.on('uncaughtException', (err) => {
    ctx.metrics.unhandled('exception');
    log.fatal({ 'event.action': 'uncaught-exception', error: err }, 'uncaught exception: the process state is unknown, draining');
    void stop('uncaughtException', 1);
  });

  if (config.pluginInfoDir) publishPluginInfo(config.pluginInfoDir);
  socket = await listenRpcSocket(join(socketDir, socketName), pluginServer.dispatch, log, {
    mode: config.socketMode,
    group: config.socketGroup,
  });
  const views = createStatusViews(ctx, {
    startedAt,
    isServing: () => socket !== undefined && !draining,
    isDraining: () => draining,
    pluginServer: pluginServerState,
    telemetry: () => ctx.telemetry.status(),
  });
  status = await startStatusServer({
    host: config.statusHost,
    port: config.statusPort,
    views,
    registry: ctx.metrics.registry,
    exposeDebug: config.nodeEnv !== 'production',
    log,
  });
  const gcFields = { 'process.cpus': gc.cpus, 'v8.parallel_scavenge': gc.parallelScavenge, 'v8.parallel_scavenge_set_by': gc.decidedBy };
  log.info(
    { 'event.action': 'started', 'kong.socket': socket.path, 'kong.socket_reads': socket.reads, 'url.full': status.url, ...gcFields },
    `plugin server listening on ${socket.path}; status on ${status.url}`,
  );
}
