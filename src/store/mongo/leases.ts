// Leases in MongoDB: one document per name, unique. A conditional upsert takes a lease in one
// atomic step: when the lease is held by someone else and still live, the filter matches
// nothing and the upsert's insert meets the unique index, which means "not yours".
import { MongoServerError } from 'mongodb';
import type { Lease, LeaseRepository } from '../../core/ports';
import { withoutId, type MongoConnection } from './connection';

const DUPLICATE_KEY_ERROR = 11000;

export class MongoLeaseRepository implements LeaseRepository {
  constructor(private readonly connection: MongoConnection) {}

  async acquire(name: string, owner: string, now: Date, ttlMs: number): Promise<boolean> {
    try {
      await this.collection().updateOne(
        { name, $or: [{ owner }, { expiresAt: { $lte: now } }] },
        { $set: { name, owner, expiresAt: new Date(now.getTime() + ttlMs) } },
        { upsert: true },
      );
      return true;
    } catch (e) {
      if (e instanceof MongoServerError && e.code === DUPLICATE_KEY_ERROR) return false;
      throw e;
    }
  }

  async release(name: string, owner: string): Promise<void> {
    await this.collection().deleteOne({ name, owner });
  }

  async listLive(prefix: string, now: Date): Promise<Lease[]> {
    const escaped = prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const docs = await this.collection().find({ name: { $regex: `^${escaped}` }, expiresAt: { $gt: now } }).sort({ name: 1 }).toArray();
    return docs.map(withoutId);
  }

  private collection() {
    return this.connection.open().leases;
  }
}
