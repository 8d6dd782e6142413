// winston, JSON lines. Request bodies are never logged; as a second line of defence, any
// field whose name suggests a secret is replaced before a line is written.
import { writeSync } from 'node:fs';
import { Writable } from 'node:stream';
import winston from 'winston';

/** Where winston's transports read the finished line (triple-beam's MESSAGE). */
const MESSAGE = Symbol.for('message');

const secretField = /^(plaintext|privatekeyplaintext|secretaccesskey|rawsecretaccesskey|pin|sopin|password|keystorepassword|authorization|ciphertextblob|body)$/i;

/**
 * One pass per line: secrets redacted, a timestamp added, and the line serialised with the
 * native JSON.stringify (a line's fields are plain data: no cycles, no BigInt). It runs once per
 * request, so it stays a single function rather than a chain of formats.
 */
const jsonLine = winston.format((info) => {
  const line = info as Record<string | symbol, unknown>;
  for (const key of Object.keys(line)) {
    if (secretField.test(key)) line[key] = '[redacted]';
  }
  line.timestamp = new Date().toISOString();
  try {
    line[MESSAGE] = JSON.stringify(line);
  } catch {
    // A field that cannot be serialised (a cycle, a BigInt) must not cost the line.
    line[MESSAGE] = JSON.stringify({ level: line.level, message: line.message, timestamp: line.timestamp, unserialisable: Object.keys(line).filter((k) => k !== 'level' && k !== 'message' && k !== 'timestamp') });
  }
  return info;
});

/** What each batched stdout still holds when the process exits: one exit listener for them all. */
const unwrittenAtExit = new Set<() => string>();
process.once('exit', () => {
  const text = [...unwrittenAtExit].map((take) => take()).join('');
  if (text.length === 0) return;
  try {
    writeSync(process.stdout.fd, text);
  } catch {
    // stdout is gone: nothing left to tell.
  }
});

/** How many open loggers still have lines to write at exit (each closed logger leaves the set). */
export function stdoutStreamsAwaitingExit(): number {
  return unwrittenAtExit.size;
}

/**
 * Lines for stdout, written once per turn of the event loop: a busy service writes tens of
 * lines per turn, and one write costs a system call whatever its length. Whatever is pending is
 * written synchronously when the process exits.
 */
function batchedStdout(): Writable {
  let pending: string[] = [];
  let scheduled = false;
  const take = () => {
    const text = pending.join('');
    pending = [];
    return text;
  };
  unwrittenAtExit.add(take);
  return new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      pending.push(chunk.toString());
      if (!scheduled) {
        scheduled = true;
        setImmediate(() => {
          scheduled = false;
          if (pending.length > 0) process.stdout.write(take());
        });
      }
      callback();
    },
    // The logger closed: what is pending goes now, and the exit listener forgets this stream.
    final(callback) {
      unwrittenAtExit.delete(take);
      const text = take();
      if (text.length > 0) process.stdout.write(text);
      callback();
    },
    destroy(error, callback) {
      unwrittenAtExit.delete(take);
      callback(error);
    },
  });
}

export type Logger = winston.Logger;

/**
 * `stderr`: console lines go to stderr, leaving stdout to a command's output. `consoleLevel`: the
 * console's own level when it differs from `level` (which the file keeps).
 */
export function createLogger(options: { level: string; consoleLevel?: string; file?: string; silent?: boolean; stderr?: boolean }): Logger {
  const consoleLevel = options.consoleLevel ?? options.level;
  // Commands write their lines to stderr as they come; the service batches its stdout.
  const stdout = options.stderr ? undefined : batchedStdout();
  const transports: winston.transport[] = [stdout
    ? new winston.transports.Stream({ level: consoleLevel, stream: stdout, silent: options.silent })
    : new winston.transports.Console({ level: consoleLevel, silent: options.silent, stderrLevels: Object.keys(winston.config.npm.levels) })];
  if (options.file) transports.push(new winston.transports.File({ filename: options.file }));
  const logger = winston.createLogger({
    level: options.level,
    format: jsonLine(),
    transports,
  });
  // Neither end() nor close() of a winston logger ends a Stream transport's stream: it is ended here.
  if (stdout) {
    const endStdout = () => { if (!stdout.writableEnded) stdout.end(); };
    logger.once('finish', endStdout).once('close', endStdout);
  }
  return logger;
}
