// `npm start`'s build step: compiles src/ to dist/ only when something it depends on changed since
// the last build (a source file, a tsconfig, the lock file), so a second `npm start` starts at
// once. Says what it is doing when it does compile: the first run takes a while.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const root = path.join(import.meta.dirname, '..');
const stamp = path.join(root, 'dist', '.build-stamp');

/** The newest modification time under `dir` (files only). */
function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(full) : statSync(full).mtimeMs);
  }
  return latest;
}

const inputs = Math.max(
  newest(path.join(root, 'src')),
  ...['tsconfig.json', 'tsconfig.build.json', 'package-lock.json'].filter((f) => existsSync(path.join(root, f))).map((f) => statSync(path.join(root, f)).mtimeMs),
);
if (existsSync(stamp) && existsSync(path.join(root, 'dist', 'main.js')) && statSync(stamp).mtimeMs >= inputs) process.exit(0);

console.log(existsSync(stamp) ? 'hsm-kms: sources changed, compiling…' : 'hsm-kms: compiling the TypeScript sources (first run)…');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });
writeFileSync(stamp, `${new Date().toISOString()}\n`);
