import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');

/** The lines between `// #region <name>` and `// #endregion <name>` of a repository file, dedented. */
export function region(file: string, name: string): string {
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
  const m = new RegExp(`// #region ${name}\\n([\\s\\S]*?)\\n\\s*// #endregion ${name}`).exec(text);
  if (m === null) throw new Error(`${file}: no region ${name}`);
  const lines = m[1]!.split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => /^ */.exec(l)![0].length));
  return lines.map((l) => l.slice(indent)).join('\n');
}

/**
 * Every code block of a guide preceded by `<!-- region: <file>#<name> -->`, with the region it
 * claims to quote: the guide shows the code the tests run, never a drifted copy.
 */
export function quotedRegions(doc: string): { where: string; quoted: string; source: string }[] {
  const text = fs.readFileSync(path.join(ROOT, doc), 'utf8');
  return [...text.matchAll(/<!-- region: ([^#\s]+)#([\w-]+) -->\s*\n```ts\n([\s\S]*?)\n```/g)].map((m) => ({
    where: `${doc} quoting ${m[1]}#${m[2]}`,
    quoted: m[3]!,
    source: region(m[1]!, m[2]!),
  }));
}
