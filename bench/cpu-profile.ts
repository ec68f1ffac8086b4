import { readFileSync } from 'node:fs';

/** The top costs of a V8 .cpuprofile (node --cpu-prof): self time per function and per module, idle excluded. */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileTop {
  busyMs: number;
  functions: Array<{ name: string; share: number }>;
  modules: Array<{ name: string; share: number }>;
}

/** node_modules/<package>, dist/<file>, node:<builtin>, or the V8 entry ("(garbage collector)", native writes…). */
function moduleOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : `native ${functionName}`;
  const dependency = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dependency) return dependency[1] as string;
  return url.replace(/^.*\/dist\//, '').replace(/^file:\/\//, '');
}

export function topCosts(file: string, count = 10): ProfileTop {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const functions = new Map<string, number>();
  const modules = new Map<string, number>();
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const { functionName, url, lineNumber } = (byId.get(id) as ProfileNode).callFrame;
    if (functionName === '(idle)') return;
    const micros = profile.timeDeltas[i] ?? 0;
    busy += micros;
    const name = `${functionName || '(anonymous)'} ${moduleOf(url, functionName)}${url ? `:${lineNumber + 1}` : ''}`;
    functions.set(name, (functions.get(name) ?? 0) + micros);
    const module = moduleOf(url, functionName);
    modules.set(module, (modules.get(module) ?? 0) + micros);
  });
  const top = (map: Map<string, number>) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(([name, micros]) => ({ name, share: Math.round((1000 * micros) / busy) / 10 }));
  return { busyMs: Math.round(busy / 1000), functions: top(functions), modules: top(modules) };
}
