import { readFileSync } from 'node:fs';

/**
 * Preloaded into a plugin-server process by tests only (NODE_OPTIONS=--import): moves Date.now by the
 * number of milliseconds in the file CLOCK_SHIFT_FILE names, re-read every 20 ms, so a test can step
 * past a token's expiry without waiting for it.
 */
const file = process.env.CLOCK_SHIFT_FILE;
if (file) {
  const realNow = Date.now.bind(Date);
  let offsetMs = 0;
  const read = () => {
    try {
      offsetMs = Number(readFileSync(file, 'utf8')) || 0;
    } catch {
      offsetMs = 0;
    }
  };
  read();
  setInterval(read, 20).unref();
  Date.now = () => realNow() + offsetMs;
  const RealDate = Date;
  globalThis.Date = class extends RealDate {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(Date.now());
      else super(...(args as [string]));
    }
  } as DateConstructor;
}
