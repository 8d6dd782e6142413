// winston, JSON lines. Request bodies are never logged; as a second line of defence, any
// field whose name suggests a secret is replaced before a line is written.
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
  line[MESSAGE] = JSON.stringify(line);
  return info;
});

export type Logger = winston.Logger;

/** `stderr`: console lines go to stderr, leaving stdout to a command's output. */
export function createLogger(options: { level: string; file?: string; silent?: boolean; stderr?: boolean }): Logger {
  const stderrLevels = options.stderr ? Object.keys(winston.config.npm.levels) : undefined;
  const transports: winston.transport[] = [new winston.transports.Console({ silent: options.silent, stderrLevels })];
  if (options.file) transports.push(new winston.transports.File({ filename: options.file }));
  return winston.createLogger({
    level: options.level,
    format: jsonLine(),
    transports,
  });
}
