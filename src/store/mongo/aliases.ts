// Aliases in MongoDB: one document per alias, unique by scope and name.
import type { Filter } from 'mongodb';
import type { AliasRecord, KeyScope } from '../../core/model';
import { decodeMarker, encodeMarker } from '../../core/api/page-marker';
import type { AliasRepository, Page, PageRequest } from '../../core/ports';
import { pageOf } from '../page';
import { ensureKeyGate, inTransaction, insertUnique, insertWithinLimit, passKeyGate, scopeFilter, withoutId, type MongoConnection } from './connection';

export class MongoAliasRepository implements AliasRepository {
  constructor(private readonly connection: MongoConnection) {}

  async insert(alias: AliasRecord): Promise<void> {
    // A copy, because the driver writes the generated _id into the document it is given.
    await insertUnique(this.collection(), { ...alias }, `alias ${alias.aliasName}`);
  }

  async insertWithinLimit(alias: AliasRecord, perKeyLimit: number): Promise<boolean> {
    const connection = this.connection.open();
    return insertWithinLimit(
      connection, connection.aliases, { ...alias }, { ...scopeFilter(alias), targetKeyId: alias.targetKeyId }, perKeyLimit,
      { scope: alias, keyId: alias.targetKeyId }, `alias ${alias.aliasName}`,
    );
  }

  async get(scope: KeyScope, aliasName: string): Promise<AliasRecord | undefined> {
    const doc = await this.collection().findOne(aliasFilter(scope, aliasName));
    return doc ? withoutId(doc) : undefined;
  }

  async list(scope: KeyScope, filter: { keyId?: string }, page: PageRequest): Promise<Page<AliasRecord>> {
    const query: Filter<AliasRecord> = scopeFilter(scope);
    if (filter.keyId !== undefined) query.targetKeyId = filter.keyId;
    if (page.marker !== undefined) query.aliasName = { $gt: decodeMarker('alias', page.marker) };
    const docs = await this.collection().find(query).sort({ aliasName: 1 }).limit(page.limit + 1).toArray();
    return pageOf(docs, page.limit, withoutId, (last) => encodeMarker('alias', last.aliasName));
  }

  async update(scope: KeyScope, aliasName: string, targetKeyId: string, now: Date): Promise<boolean> {
    const result = await this.collection().updateOne(
      aliasFilter(scope, aliasName),
      { $set: { targetKeyId, updatedAt: now } },
    );
    return result.matchedCount > 0;
  }

  async moveWithinLimit(scope: KeyScope, aliasName: string, targetKeyId: string, now: Date, perKeyLimit: number): Promise<'moved' | 'notFound' | 'limitExceeded'> {
    const { client, aliases, keyGates, supportsTransactions } = this.connection.open();
    const others: Filter<AliasRecord> = { ...scopeFilter(scope), targetKeyId, aliasName: { $ne: aliasName } };
    if (!supportsTransactions) {
      // Move, count, and move back when over the limit (see insertWithinLimit).
      const before = await aliases.findOneAndUpdate(aliasFilter(scope, aliasName), { $set: { targetKeyId, updatedAt: now } });
      if (!before) return 'notFound';
      if (await aliases.countDocuments(others) < perKeyLimit) return 'moved';
      await aliases.updateOne(aliasFilter(scope, aliasName), { $set: { targetKeyId: before.targetKeyId, updatedAt: before.updatedAt } });
      return 'limitExceeded';
    }
    await ensureKeyGate(keyGates, scope, targetKeyId);
    return inTransaction(client, { aliases, keyGates }, async (tx) => {
      await passKeyGate(tx.keyGates, scope, targetKeyId);
      if (await tx.aliases.countDocuments(others) >= perKeyLimit) return 'limitExceeded';
      const result = await tx.aliases.updateOne(aliasFilter(scope, aliasName), { $set: { targetKeyId, updatedAt: now } });
      return result.matchedCount > 0 ? 'moved' : 'notFound';
    });
  }

  async delete(scope: KeyScope, aliasName: string): Promise<boolean> {
    const result = await this.collection().deleteOne(aliasFilter(scope, aliasName));
    return result.deletedCount > 0;
  }

  async countForKey(scope: KeyScope, keyId: string): Promise<number> {
    return this.collection().countDocuments({ ...scopeFilter(scope), targetKeyId: keyId });
  }

  private collection() {
    return this.connection.open().aliases;
  }
}

function aliasFilter(scope: KeyScope, aliasName: string): Filter<AliasRecord> {
  return { ...scopeFilter(scope), aliasName };
}
