// The real server (src/main.ts) as a child process, for what only a process can show: exit
// codes, start-up messages, files it creates, several instances on one store.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const repo = path.resolve(__dirname, '../..');

export interface ChildService {
  process: ChildProcess;
  /** Resolves with the port once the service logs "listening", or rejects when it exits first. */
  listening: Promise<number>;
  /** Resolves with the exit code and everything it wrote. */
  exited: Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** The JSON log lines written to stdout so far (of every process, with KMS_WORKERS above 1). */
  logLines(): Record<string, unknown>[];
}

/** A single process unless `env` sets KMS_WORKERS (whose default is the number of cores). */
export function startChildService(env: Record<string, string>): ChildService {
  const child = spawn(process.execPath, ['-r', path.join(repo, 'test/support/ts-register.cjs'), path.join(repo, 'src/main.ts')], {
    env: { ...process.env, KMS_LOG_LEVEL: 'info', KMS_WORKERS: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let onListening: (port: number) => void = () => {};
  let onEarlyExit: (e: Error) => void = () => {};
  const listening = new Promise<number>((resolve, reject) => { onListening = resolve; onEarlyExit = reject; });
  listening.catch(() => undefined);
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    const line = stdout.split('\n').find((l) => l.includes('"message":"listening"'));
    if (line) onListening((JSON.parse(line) as { port: number }).port);
  });
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    child.on('exit', (code) => {
      onEarlyExit(new Error(`service exited with ${code} before listening: ${stderr}`));
      resolve({ code, stdout, stderr });
    });
  });
  // Complete lines only (the last may still be arriving).
  const logLines = () => stdout.split('\n').slice(0, -1).flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
  return { process: child, listening, exited, logLines };
}
