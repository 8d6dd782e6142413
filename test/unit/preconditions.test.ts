// The project's convention: every security check in src carries a `// Precondition:`
// comment, and some test is named after that exact sentence.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? files(full) : full.endsWith('.ts') ? [full] : [];
  });
}

const root = path.join(__dirname, '..', '..');

it('every Precondition comment in src has a test of the same name', () => {
  const sentences = files(path.join(root, 'src')).flatMap((file) =>
    [...readFileSync(file, 'utf8').matchAll(/\/\/ Precondition: (.+)$/gm)].map((m) => ({ file: path.relative(root, file), sentence: m[1]!.trim() })));
  const tests = files(path.join(root, 'test')).map((file) => readFileSync(file, 'utf8')).join('\n');
  const named = (sentence: string) => [`it('${sentence}'`, `test('${sentence}'`, `it("${sentence}"`, `it('${sentence.replace(/'/g, "\\'")}'`].some((form) => tests.includes(form));
  expect(sentences.length).toBeGreaterThan(30);
  expect(sentences.filter(({ sentence }) => !named(sentence))).toEqual([]);
});
