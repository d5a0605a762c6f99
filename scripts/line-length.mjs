// Part of `npm run lint`: no line of src/ or test/ over 120 columns. Biome's
// formatter wraps code at 120 but leaves long strings and comments alone; this catches those.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const MAX = 120;
const walk = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? walk(join(dir, e.name))
      : /\.(ts|mjs)$/.test(e.name) && !e.name.endsWith('.d.mts')
        ? [join(dir, e.name)]
        : [],
  );
const long = ['src', 'test'].flatMap(walk).flatMap((file) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((line, i) => ([...line].length > MAX ? [`${file}:${i + 1}: ${[...line].length} columns`] : [])),
);
for (const l of long) console.error(l);
if (long.length) {
  console.error(`${long.length} line(s) over ${MAX} columns: split the string or wrap the comment`);
  process.exit(1);
}
