import { MsgpackRpcClient } from '../../kong/stand-in/msgpack-rpc-client.js';

/**
 * One RPC on a plugin socket, as whichever user runs this script: prints `{"result": …}` or
 * `{"error": "…"}` as one JSON line. Arguments: the socket path, the method, its params as a JSON array.
 */
const [socketPath, method, params = '[]'] = process.argv.slice(2);
const client = new MsgpackRpcClient(socketPath as string);
try {
  const result = await client.call(method as string, ...(JSON.parse(params) as unknown[]));
  process.stdout.write(`${JSON.stringify({ result })}\n`);
} catch (err) {
  process.stdout.write(`${JSON.stringify({ error: (err as Error).message })}\n`);
} finally {
  client.close();
}
