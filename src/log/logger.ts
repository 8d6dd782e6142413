// winston, JSON lines. Request bodies are never logged; as a second line of defence, any
// field whose name suggests a secret is replaced before a line is written.
import winston from 'winston';

const secretField = /^(plaintext|privatekeyplaintext|secretaccesskey|rawsecretaccesskey|pin|sopin|password|keystorepassword|authorization|ciphertextblob|body)$/i;

const redactSecrets = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (secretField.test(key)) (info as Record<string, unknown>)[key] = '[redacted]';
  }
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
    format: winston.format.combine(redactSecrets(), winston.format.timestamp(), winston.format.json()),
    transports,
  });
}
