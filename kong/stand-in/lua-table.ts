/**
 * Reads the Lua table constructors our schema.lua generator writes (strings, numbers, booleans, nested
 * tables, `typedefs.x` references), so a test can compare the Lua schema with the JSON one field by field.
 */
export type LuaValue = string | number | boolean | LuaValue[] | { [key: string]: LuaValue } | { ref: string };

export function parseLuaReturn(source: string): LuaValue {
  // Whole-line comments only, as the generator writes them: `--` inside a string is text.
  const code = source.replace(/^\s*--[^\n]*/gm, '');
  const at = code.indexOf('return');
  if (at === -1) throw new Error('no return statement');
  let pos = at + 'return'.length;

  const skip = () => {
    while (pos < code.length && /\s/.test(code[pos] as string)) pos++;
  };
  const expect = (text: string) => {
    skip();
    if (!code.startsWith(text, pos)) throw new Error(`expected ${text} at ${code.slice(pos, pos + 30)}`);
    pos += text.length;
  };
  const value = (): LuaValue => {
    skip();
    const rest = code.slice(pos);
    if (rest.startsWith('{')) return table();
    if (rest.startsWith('"')) {
      const match = /^"(?:[^"\\]|\\.)*"/.exec(rest) as RegExpExecArray;
      pos += match[0].length;
      return JSON.parse(match[0].replace(/\\u\{([0-9a-f]{4})\}/g, '\\u$1')) as string;
    }
    const token = /^[A-Za-z0-9_.+-]+/.exec(rest)?.[0];
    if (!token) throw new Error(`unexpected ${rest.slice(0, 30)}`);
    pos += token.length;
    if (token === 'true' || token === 'false') return token === 'true';
    if (/^-?\d/.test(token)) return Number(token);
    return { ref: token };
  };
  const table = (): LuaValue => {
    expect('{');
    const list: LuaValue[] = [];
    const record: Record<string, LuaValue> = {};
    for (;;) {
      skip();
      if (code[pos] === '}') {
        pos++;
        return Object.keys(record).length > 0 ? record : list;
      }
      const keyed = /^(?:([A-Za-z_][A-Za-z0-9_]*)|\["((?:[^"\\]|\\.)*)"\])\s*=(?!=)/.exec(code.slice(pos));
      if (keyed) {
        pos += keyed[0].length;
        record[(keyed[1] ?? keyed[2]) as string] = value();
      } else list.push(value());
      skip();
      if (code[pos] === ',') pos++;
    }
  };
  return value();
}
