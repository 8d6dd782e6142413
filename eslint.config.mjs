// Lint rules. The architectural rule lives here: src/core must stay free of adapters,
// so it can be unit-tested with fakes and reasoned about without I/O.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const adapterLibraries = [
  'express', 'pkcs11js', 'graphene-pk11', 'mongodb', 'better-sqlite3', 'winston', 'jose',
  '@smithy/*', '@aws-sdk/*', 'supertest',
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'coverage/**', 'softhsm-config/tokens/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/main.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/main'], message: 'Nothing imports main.ts.' }] }],
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: adapterLibraries, message: 'src/core must not import adapter libraries (see DESIGN.md).' },
          { group: ['**/http/**', '**/pkcs11/**', '**/store/**', '**/log/**', '**/main', '**/config'],
            message: 'src/core imports only src/core and node: built-ins.' },
        ],
      }],
    },
  },
  {
    files: ['**/*.mjs', '**/*.js', '**/*.cjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', URL: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
