import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BACKSTOP_LUA_PATH } from '../../kong/stand-in/backstop-lua.js';
import { ONE_LINE_BACKSTOP } from './fixtures.js';
import { REALKONG_DIR } from './realkong.js';

/** Routes under this prefix run kong/backstop.lua after the plugins; the kit's other /gated routes its one-line backstop. */
export const BACKSTOP_PREFIX = '/gated/backstop';

/** Where the kit's runloop runs kong.yml's backstop line after the plugins (a function body, as post-function runs it). */
const KIT_BACKSTOP = `    local backstop = function()\n      ${ONE_LINE_BACKSTOP}\n    end\n`;

/**
 * kong/backstop.lua compiled as post-function compiles an `access` entry: a chunk run on every request,
 * whose environment has `kong`, `ngx` and (from the sandbox's base) `pairs`, nothing else.
 */
const LOADER = `-- kong/backstop.lua, compiled once, as post-function compiles it (inserted by the tests)
local kas_backstop_chunk
local function kas_backstop()
  kas_backstop_chunk = kas_backstop_chunk or setfenv(assert(loadfile([==[${BACKSTOP_LUA_PATH}]==])), { kong = kong, ngx = ngx, pairs = pairs })
  return kas_backstop_chunk
end
`;

/** nginx's own cap on request header lines (max_headers, default 1000), raised where the kit's nginx.conf is written. */
const KIT_NGINX_SETTING = '    keepalive_requests 10000;\n';

/** `text` with `from` replaced by `to`, or an error when the kit no longer has `from`. */
function patch(text: string, from: string, to: string, what: string): string {
  if (!text.includes(from)) throw new Error(`the realkong kit has changed: ${what} is not where it was`);
  return text.replace(from, to);
}

/**
 * A copy of the realkong kit whose runloop runs kong/backstop.lua, read from the file at each start, on
 * routes under BACKSTOP_PREFIX, where the kit runs its one-line backstop on the other /gated routes.
 * nginx's max_headers (1.27.2+, backported by Debian) refuses more than 1000 header lines before any Lua
 * runs; the copy raises it to 1100, as nginx builds without that cap behave, so the backstop's own
 * refusal of a truncated header map can be seen.
 */
export function kitWithBackstop(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'kas-realkong-kit-'));
  cpSync(REALKONG_DIR, dir, { recursive: true });
  const runloop = join(dir, 'harness', 'runloop.lua');
  const ours = `    local backstop = ctx.rk_route:find("^${BACKSTOP_PREFIX}") and kas_backstop() or function()\n      ${ONE_LINE_BACKSTOP}\n    end\n`;
  writeFileSync(runloop, LOADER + patch(readFileSync(runloop, 'utf8'), KIT_BACKSTOP, ours, "the runloop's backstop line"));
  const runSh = join(dir, 'run.sh');
  writeFileSync(runSh, patch(readFileSync(runSh, 'utf8'), KIT_NGINX_SETTING, `${KIT_NGINX_SETTING}    max_headers 1100;\n`, 'nginx.conf'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
