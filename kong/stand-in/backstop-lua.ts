import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from './plugin-server-process.js';

/** kong/backstop.lua: the backstop post-function's Lua, as kong.yml, the docs and the tests carry it. */
export const BACKSTOP_LUA_PATH = join(PROJECT_ROOT, 'kong', 'backstop.lua');
export const BACKSTOP_LUA = readFileSync(BACKSTOP_LUA_PATH, 'utf8');

/** The identity headers the backstop clears in every spelling: the keys of its `identity` table. */
export const BACKSTOP_IDENTITY_HEADERS = [...BACKSTOP_LUA.matchAll(/\["([a-z-]+)"\] = true/g)].map((match) => match[1] as string);
