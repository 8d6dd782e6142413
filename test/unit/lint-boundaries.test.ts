// The import boundaries of eslint.config.mjs, probed: every way of reaching outside
// src/core (folder imports, packages on no list, dynamic import(), require(), re-exports,
// built-ins without node:) is reported, and the imports core really uses pass. Likewise
// src/http may not reach the token, the store or the logger's internals, and the
// configuration module may not depend on the HTTP layer, nor the XKS proxy client on any
// other adapter.
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const root = path.join(__dirname, '..', '..');

interface Probe { file: string; code: string }

const coreCaught = [
  "import x from '../pkcs11';\nexport const y = x;",
  "import '../store';",
  "import express from 'express';\nexport const y = express;",
  "import { a } from 'some-new-package';\nexport const y = a;",
  "export async function f() { return await import('../store/mongo'); }",
  "export const db = require('better-sqlite3');",
  "export * from '../log/logger';",
  "import fs from 'fs';\nexport const y = fs;",
  "export { loadConfig } from '../config';",
  "import type { Request } from 'express';\nexport type R = Request;",
  "export type T = import('../http/app').AppOptions;",
  "export async function f(name: string) { return import(name); }",
  "import { createRequire } from 'node:module';\nexport const r = createRequire(__filename);",
  "import x = require('../../src/store/embedded');\nexport const y = x;",
].map((code) => ({ file: 'src/core/probe.ts', code }));

const coreSubfolderCaught: Probe[] = [
  { file: 'src/core/operations/probe.ts', code: "import { x } from '../../store/embedded';\nexport const y = x;" },
  { file: 'src/core/policy/probe.ts', code: "import { x } from '../../pkcs11/token';\nexport const y = x;" },
  { file: 'src/core/operations/probe.ts', code: "import { x } from '..//../log/./logger';\nexport const y = x;" },
];

const coreAllowed: Probe[] = [
  { file: 'src/core/probe.ts', code: "import { createHash } from 'node:crypto';\nexport const h = createHash;" },
  { file: 'src/core/probe.ts', code: "import { x } from './errors';\nexport const y = x;" },
  { file: 'src/core/operations/probe.ts', code: "import { y } from '../operations/encrypt';\nexport const z = y;" },
  { file: 'src/core/operations/probe.ts', code: "import { KmsError } from '../errors';\nexport const e = KmsError;" },
  { file: 'src/core/policy/probe.ts', code: "export * from './evaluate';" },
];

const httpCaught = [
  "import { Pkcs11Token } from '../pkcs11/token';\nexport const t = Pkcs11Token;",
  "import { EmbeddedStore } from '../store/embedded';\nexport const s = EmbeddedStore;",
  "import { openMetadataStore } from '../store';\nexport const s = openMetadataStore;",
  "import { createLogger } from '../log/logger';\nexport const l = createLogger;",
  "export async function f() { return import('../pkcs11'); }",
].map((code) => ({ file: 'src/http/probe.ts', code }));

const httpSubfolderCaught: Probe = { file: 'src/http/kms/probe.ts', code: "import { MongoStore } from '../../store/mongo';\nexport const s = MongoStore;" };

const httpAllowed: Probe = {
  file: 'src/http/kms/probe.ts',
  code: [
    "import express from 'express';",
    "import type { Logger } from '../../log/logger';",
    "import { KmsError } from '../../core/errors';",
    'export const x: [unknown, Logger | undefined, unknown] = [express, undefined, KmsError];',
  ].join('\n'),
};

const configCaught: Probe = { file: 'src/config.ts', code: "import { parseJwtIssuers } from './http/auth/bearer';\nexport const p = parseJwtIssuers;" };

const xksClientCaught = [
  "import { EmbeddedStore } from '../store/embedded';\nexport const s = EmbeddedStore;",
  "import { Pkcs11Token } from '../pkcs11/token';\nexport const t = Pkcs11Token;",
  "import { verifySigV4 } from '../http/auth/sigv4';\nexport const v = verifySigV4;",
  "import { createLogger } from '../log/logger';\nexport const l = createLogger;",
  "export async function f() { return import('../compose'); }",
].map((code) => ({ file: 'src/xks-client/probe.ts', code }));

const xksClientAllowed: Probe = {
  file: 'src/xks-client/probe.ts',
  code: [
    "import { SignatureV4 } from '@smithy/signature-v4';",
    "import https from 'node:https';",
    "import { XksProxyFailure } from '../core/key-stores/connectors';",
    'export const x = [SignatureV4, https, XksProxyFailure];',
  ].join('\n'),
};

const probes = [...coreCaught, ...coreSubfolderCaught, ...coreAllowed, ...httpCaught, httpSubfolderCaught, httpAllowed, configCaught, ...xksClientCaught, xksClientAllowed];
const reports = new Map<Probe, string[]>();

beforeAll(() => {
  // ESLint's own API with the repository's config, all probes in one child process (see lint-probe.mjs).
  const output = execFileSync(process.execPath, [path.join(root, 'test', 'support', 'lint-probe.mjs')], {
    cwd: root, input: JSON.stringify(probes), encoding: 'utf8',
  });
  (JSON.parse(output) as string[][]).forEach((messages, i) => reports.set(probes[i]!, messages));
}, 60_000);

/** The boundary rule's reports (and any parse error) for a probe. */
const reportsOf = (probe: Probe) => reports.get(probe)!;
const oneLine = (code: string) => code.replace(/\n/g, ' ');

describe('src/core imports only src/core and node: built-ins', () => {
  it.each(coreCaught.map((p) => [oneLine(p.code), p]))('reports %s', (_code, probe) => {
    expect(reportsOf(probe)).toEqual([expect.stringContaining('src/core imports only src/core')]);
  });

  it.each(coreSubfolderCaught.map((p) => [p.file, oneLine(p.code), p]))('reports, in %s, %s', (_file, _code, probe) => {
    expect(reportsOf(probe)).toEqual([expect.stringContaining('src/core imports only src/core')]);
  });

  it.each(coreAllowed.map((p) => [p.file, oneLine(p.code), p]))('allows, in %s, %s', (_file, _code, probe) => {
    expect(reportsOf(probe)).toEqual([]);
  });
});

describe('src/http reaches neither src/pkcs11, src/store nor src/log internals', () => {
  it.each([...httpCaught, httpSubfolderCaught].map((p) => [p.file, oneLine(p.code), p]))('reports, in %s, %s', (_file, _code, probe) => {
    expect(reportsOf(probe)).toEqual([expect.stringContaining('src/http reaches the token and the store through core')]);
  });

  it('allows core, packages and the type of the Logger', () => {
    expect(reportsOf(httpAllowed)).toEqual([]);
  });
});

describe('src/xks-client, an adapter of a core port, reaches no other adapter', () => {
  it.each(xksClientCaught.map((p) => [oneLine(p.code), p]))('reports %s', (_code, probe) => {
    expect(reportsOf(probe)).toEqual([expect.stringContaining('src/xks-client implements a core port')]);
  });

  it('allows core, packages and node: built-ins', () => {
    expect(reportsOf(xksClientAllowed)).toEqual([]);
  });
});

it('the configuration module does not depend on the HTTP layer', () => {
  expect(reportsOf(configCaught)).toEqual([expect.stringContaining('configuration modules must not depend on the adapters')]);
});
