import { argv, exit, stderr, stdout } from 'node:process';
import { configValidator, OUR_PLUGINS, queryPluginInfo, type PluginInfo } from './kong-harness.js';
import { ourPluginPlaces, unmatchedMetadataIssuers } from './plugin-places.js';
import { loadKongYml } from './kong-yml.js';

/**
 * `make validate-config FILE=kong.yml`: every config of our plugins in a decK file,
 * checked against the schema the plugin server publishes, the way Kong checks it at load; and every
 * discovery document's issuer is the issuer of a token route.
 */
async function main(path: string): Promise<number> {
  const infos: Record<string, PluginInfo> = {};
  for (const name of OUR_PLUGINS) infos[name] = await queryPluginInfo(name);
  const validate = configValidator(infos);
  const yml = loadKongYml(path);
  const places = ourPluginPlaces(yml);
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
  const issuers = unmatchedMetadataIssuers(places);
  for (const problem of issuers) stderr.write(`FAIL ${problem}\n`);
  stdout.write(
    `${places.length - failures} passed, ${failures} failed${issuers.length ? `, ${issuers.length} metadata issuers unmatched` : ''}\n`,
  );
  return failures + issuers.length === 0 ? 0 : 1;
}

const file = argv[2];
if (!file) {
  stderr.write('usage: validate-config <kong.yml>\n');
  exit(2);
}
exit(await main(file));
