import { readFileSync } from 'node:fs';

/** package.json's version, read once; dist/lib/version.js sits two levels below the package root. */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string })
  .version;
