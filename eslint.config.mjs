// Lint rules. The architectural rules live here: src/core must stay free of adapters, so it
// can be unit-tested with fakes and reasoned about without I/O; the HTTP layer reaches the
// token, the store and the logger only through core's ports and what main.ts hands it.
// The boundaries are checked by a local rule that resolves each import against the
// importing file (eslint-rules/import-boundaries.mjs), so no spelling of a path, no package
// missing from a list and no dynamic import() or require() gets past them.
import path from 'node:path';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importBoundaries from './eslint-rules/import-boundaries.mjs';

const src = (...parts) => path.join(import.meta.dirname, 'src', ...parts);

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
      'no-restricted-imports': ['error', { patterns: [
        { group: ['**/main'], message: 'Nothing imports main.ts.' },
        { group: ['prom-client'], message: 'Metrics live in src/metrics: other code exposes read-only stats or observer hooks.' },
      ] }],
    },
  },
  {
    // Only src/metrics may use prom-client. Through types only, it reads the token's pool
    // stats and hands tokens an operation observer; it never drives a token or the store itself.
    files: ['src/metrics/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/main'], message: 'Nothing imports main.ts.' }] }],
      'local/import-boundaries': ['error', {
        outside: [src('pkcs11'), src('store'), src('log'), src('main'), src('compose'), src('cli')], typeOnly: [src('pkcs11', 'sessions')], bare: 'any',
        message: 'src/metrics observes core through its ports and hooks; from src/pkcs11 it may name types only (pkcs11/sessions).',
      }],
    },
  },
  {
    files: ['src/**/*.ts'],
    plugins: { local: { rules: { 'import-boundaries': importBoundaries } } },
  },
  {
    // An allow-list: relative imports that stay inside src/core, and node: built-ins.
    // node:module is excluded because its createRequire would load anything.
    files: ['src/core/**/*.ts'],
    rules: {
      'local/import-boundaries': ['error', {
        inside: [src('core')], bare: 'node:', forbiddenBuiltins: ['node:module'],
        message: 'src/core imports only src/core and node: built-ins (DESIGN.md).',
      }],
      'no-eval': 'error',
      'no-new-func': 'error',
    },
  },
  {
    // The HTTP layer gets the token and the store through core's ports (CoreDeps) and its
    // logger from main.ts. It may name the logger's type: `import type { Logger } from
    // '../log/logger'` is erased at compile time, so it loads nothing of winston, and a
    // separate interface would only restate winston's. Any value import from src/log stays an error.
    files: ['src/http/**/*.ts'],
    rules: {
      'local/import-boundaries': ['error', {
        outside: [src('pkcs11'), src('store'), src('log')], typeOnly: [src('log', 'logger')], bare: 'any',
        message: 'src/http reaches the token and the store through core, never src/pkcs11, src/store or src/log (the Logger type excepted).',
      }],
    },
  },
  {
    // The XKS proxy client is an adapter of core's XksProxyConnector port: it may use core
    // (the port, XksProxyFailure, the CDIV) and packages, but no other adapter.
    files: ['src/xks-client/**/*.ts'],
    rules: {
      'local/import-boundaries': ['error', {
        outside: [src('http'), src('pkcs11'), src('store'), src('log'), src('main'), src('compose'), src('cli')], bare: 'any',
        message: 'src/xks-client implements a core port: it imports core and packages, never another adapter (http, pkcs11, store, log, cli) or the composition.',
      }],
    },
  },
  {
    // Configuration is read before anything else is built; it depends on no adapter.
    files: ['src/config.ts', 'src/auth-config.ts', 'src/xks-config.ts'],
    rules: {
      'local/import-boundaries': ['error', {
        outside: [src('http'), src('pkcs11'), src('store'), src('log'), src('main')], bare: 'any',
        message: 'configuration modules must not depend on the adapters (http, pkcs11, store, log) or main.',
      }],
    },
  },
  {
    files: ['**/*.mjs', '**/*.js', '**/*.cjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', URL: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
