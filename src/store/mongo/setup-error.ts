/**
 * A MongoDB store that cannot start as configured, for a reason the operator must fix on the
 * MongoDB side or in the connection string (not an unreachable server). The message says what
 * and how, and never holds the connection string itself, which may carry a password.
 */
export class MongoStoreSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MongoStoreSetupError';
  }
}
