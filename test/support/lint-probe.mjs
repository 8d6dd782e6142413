// Runs ESLint with the repository's eslint.config.mjs on probe snippets, in its own Node
// process: ESLint loads its flat config with import(), which jest's module sandbox refuses.
// Reads [{ file, code }] (file relative to the repository) as JSON on stdin and writes, for
// each probe, the messages of the import-boundary rule and any fatal parse error.
import path from 'node:path';
import { ESLint } from 'eslint';

const root = path.join(import.meta.dirname, '..', '..');
const eslint = new ESLint({ cwd: root, overrideConfigFile: path.join(root, 'eslint.config.mjs') });

let input = '';
for await (const chunk of process.stdin) input += chunk;
const output = [];
for (const { file, code } of JSON.parse(input)) {
  const [result] = await eslint.lintText(code, { filePath: path.join(root, file) });
  output.push(result.messages.filter((m) => m.ruleId === 'local/import-boundaries' || m.fatal).map((m) => m.message));
}
process.stdout.write(JSON.stringify(output));
