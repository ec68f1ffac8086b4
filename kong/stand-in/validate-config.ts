import { argv, exit, stderr, stdout } from 'node:process';
import { configValidator, OUR_PLUGINS, queryPluginInfo, type PluginInfo } from './kong-harness.js';
import { loadKongYml } from './kong-yml.js';

/**
 * `make validate-config FILE=kong.yml`: every config of our plugins in a decK file,
 * checked against the schema the plugin server publishes, the way Kong checks it at load.
 */
async function main(path: string): Promise<number> {
  const infos: Record<string, PluginInfo> = {};
  for (const name of OUR_PLUGINS) infos[name] = await queryPluginInfo(name);
  const validate = configValidator(infos);
  const yml = loadKongYml(path);
  const places = [
    ...yml.plugins.map((plugin) => ({ where: 'plugins', plugin })),
    ...yml.services.flatMap((service) => [
      ...service.plugins.map((plugin) => ({ where: `services.${service.name ?? service.id}`, plugin })),
      ...service.routes.flatMap((route) => route.plugins.map((plugin) => ({ where: `routes.${route.name ?? route.id}`, plugin }))),
    ]),
    ...yml.routes.flatMap((route) => route.plugins.map((plugin) => ({ where: `routes.${route.name ?? route.id}`, plugin }))),
  ].filter(({ plugin }) => (OUR_PLUGINS as readonly string[]).includes(plugin.name));
  let failures = 0;
  for (const { where, plugin } of places) {
    try {
      validate(plugin);
      stdout.write(`ok   ${where} ${plugin.name}\n`);
    } catch (err) {
      failures++;
      stderr.write(`FAIL ${where} ${plugin.name}: ${(err as Error).message}\n`);
    }
  }
  stdout.write(`${places.length - failures} passed, ${failures} failed\n`);
  return failures === 0 ? 0 : 1;
}

const file = argv[2];
if (!file) {
  stderr.write('usage: validate-config <kong.yml>\n');
  exit(2);
}
exit(await main(file));
