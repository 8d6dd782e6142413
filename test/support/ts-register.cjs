/* global require */
// Lets a child `node` process run the project's TypeScript directly (node -r this-file x.ts),
// for tests that need a real process: jest's sandbox gives each test file a process.env of its
// own, which native modules such as a PKCS#11 library never see.
const { readFileSync } = require('node:fs');
const ts = require('typescript');

require.extensions['.ts'] = (module, filename) => {
  const { outputText } = ts.transpileModule(readFileSync(filename, 'utf8'), {
    fileName: filename,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  });
  module._compile(outputText, filename);
};
