// The service's stdout logger: lines batched per turn of the event loop, written when a logger
// closes and when the process exits, and a closed logger forgotten by the shared exit listener.
import { execFileSync } from 'node:child_process';
import path from 'node:path';

describe('stdout logger', () => {
  it('writes every line of a closed logger, writes what is pending at exit, and forgets closed loggers', () => {
    const out = execFileSync(process.execPath, ['-r', path.join(__dirname, '../support/ts-register.cjs'), path.join(__dirname, '../support/logger-lines.child.ts')], { encoding: 'utf8', timeout: 60_000 });
    const lines = out.trim().split('\n');
    const summary = JSON.parse(lines.find((l) => l.startsWith('{"opened"'))!) as { opened: number; afterClose: number };
    expect(summary).toEqual({ opened: 50, afterClose: 1 });
    const messages = lines.filter((l) => l.includes('"message"')).map((l) => (JSON.parse(l) as { message: string }).message);
    expect(messages.sort()).toEqual([...Array.from({ length: 50 }, (_, i) => `line ${i}`), 'at exit'].sort());
  });
});
