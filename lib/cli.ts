#!/usr/bin/env node
import { ConfigError, readVariable, VARIABLES } from './config.js';
import { environmentTable } from './config-docs.js';
import { luaSchema } from './kong/lua-schema.js';
import { schemaTable } from './kong/schema-table.js';
import { pluginInfo } from './kong/plugin.js';
import { PLUGIN_DESCRIPTIONS, pluginInfoFile } from './plugin-catalog.js';
import { SocketStartError } from './kong/rpc-socket.js';
import { VERSION } from './version.js';

const DESCRIPTIONS = PLUGIN_DESCRIPTIONS;

const USAGE = `Usage: kong-auth-sidecar [options]
  -p, --kong-prefix <dir>       directory of the plugin socket (default $KONG_PREFIX, else ${VARIABLES.KONG_PREFIX.default})
      --sock-name <name>        socket file name (default js_pluginserver.sock)
      --dump-all-plugins        print every plugin's info as one JSON array and exit
      --dump-plugin-info <name> print one plugin's info as a one-element JSON array and exit
      --dump-lua-schema <name>  print one plugin's Kong schema.lua (for Konnect) and exit
      --dump-config-table       print the environment variables as the markdown table of docs/configuration.md and exit
      --dump-fields-table <name>  print one plugin's fields as the markdown table of docs/configuration.md and exit
  -v, --version                 print the version and exit
  keys <command> …              manage the signing key directory: generate, promote, retire, list (keys --help)
Settings come from the environment; see docs/configuration.md.`;

export interface CliOptions {
  kongPrefix: string;
  sockName: string;
  dumpAll: boolean;
  dumpPlugin?: string;
  dumpLuaSchema?: string;
  dumpFieldsTable?: string;
  dumpConfigTable: boolean;
  version: boolean;
  help: boolean;
}

/** kong-js-pluginserver's flags, including its single-dash long forms (-kong-prefix) that Kong's docs use. */
export function parseArgs(argv: string[]): CliOptions {
  const opts: CliOptions = {
    kongPrefix: readVariable(process.env, 'KONG_PREFIX'),
    sockName: 'js_pluginserver.sock',
    dumpAll: false,
    dumpConfigTable: false,
    version: false,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = splitFlag(argv[i] as string);
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case 'p':
      case 'kong-prefix':
        opts.kongPrefix = value();
        break;
      case 'sock-name':
        opts.sockName = value();
        break;
      case 'd':
      case 'plugins-directory':
        value();
        break; // kong-js-pluginserver's; our plugins are built in
      case 'dump-all-plugins':
        opts.dumpAll = true;
        break;
      case 'dump-plugin-info':
        opts.dumpPlugin = value();
        break;
      case 'dump-lua-schema':
        opts.dumpLuaSchema = value();
        break;
      case 'dump-fields-table':
        opts.dumpFieldsTable = value();
        break;
      case 'dump-config-table':
        opts.dumpConfigTable = true;
        break;
      case 'v':
      case 'version':
        opts.version = true;
        break;
      case 'h':
      case 'help':
        opts.help = true;
        break;
      default:
        throw new Error(`unknown option ${argv[i]}`);
    }
  }
  return opts;
}

function splitFlag(arg: string): [string, string | undefined] {
  const name = arg.replace(/^--?/, '');
  const eq = name.indexOf('=');
  return eq === -1 ? [name, undefined] : [name.slice(0, eq), name.slice(eq + 1)];
}

/** Prints plugin info and nothing else: Kong parses this stdout as JSON. Starts nothing. */
function dump(opts: CliOptions): number {
  if (opts.dumpAll) {
    process.stdout.write(JSON.stringify(DESCRIPTIONS.map(pluginInfo)) + '\n');
    return 0;
  }
  const name = opts.dumpPlugin ?? opts.dumpLuaSchema ?? opts.dumpFieldsTable;
  const description = DESCRIPTIONS.find((d) => d.Name === name);
  if (!description) {
    process.stderr.write(
      `kong-auth-sidecar: no plugin named ${JSON.stringify(name)}; plugins: ${DESCRIPTIONS.map((d) => d.Name).join(', ')}\n`,
    );
    return 1;
  }
  if (opts.dumpLuaSchema !== undefined) {
    process.stdout.write(luaSchema(description));
    return 0;
  }
  if (opts.dumpFieldsTable !== undefined) {
    process.stdout.write(schemaTable(description.Schema) + '\n');
    return 0;
  }
  // Kong 3.9+ registers only the first entry of what query_cmd prints: one plugin per entry.
  process.stdout.write(pluginInfoFile(description));
  return 0;
}

async function main(argv: string[]): Promise<number | undefined> {
  if (argv[0] === 'keys') {
    const { KEYS_USAGE, runKeysCommand } = await import('./keys-cli.js');
    if (argv[1] === '--help' || argv[1] === '-h') {
      process.stdout.write(KEYS_USAGE + '\n');
      return 0;
    }
    return runKeysCommand(argv.slice(1));
  }
  let opts: CliOptions;
  try {
    opts = parseArgs(argv);
  } catch (err) {
    process.stderr.write(`kong-auth-sidecar: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (opts.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (opts.version) {
    process.stdout.write(VERSION + '\n');
    return 0;
  }
  if (opts.dumpConfigTable) {
    process.stdout.write(environmentTable());
    return 0;
  }
  if (opts.dumpAll || opts.dumpPlugin !== undefined || opts.dumpLuaSchema !== undefined || opts.dumpFieldsTable !== undefined)
    return dump(opts);
  try {
    // Loaded only to serve: the dump flags must start nothing and print nothing else.
    const { serve } = await import('./serve.js');
    await serve(opts.kongPrefix, opts.sockName);
    return undefined;
  } catch (err) {
    if (err instanceof ConfigError || err instanceof SocketStartError) {
      process.stderr.write(`kong-auth-sidecar: ${err.message}\n`);
      return 1;
    }
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      process.stderr.write(`kong-auth-sidecar: the status port is in use (${(err as Error).message}); set STATUS_PORT\n`);
      return 1;
    }
    throw err;
  }
}

const exitCode = await main(process.argv.slice(2));
if (exitCode !== undefined) process.exitCode = exitCode;
