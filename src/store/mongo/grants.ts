// Grants in MongoDB: one document per grant, unique by grant id and by grant token.
import type { Filter, WithId } from 'mongodb';
import type { GrantConstraints, GrantRecord, KeyScope } from '../../core/model';
import { decodeMarker, encodeMarker } from '../../core/api/page-marker';
import type { GrantRepository, Page, PageRequest } from '../../core/ports';
import { pageOf } from '../page';
import { insertUnique, insertWithinLimit, scopeFilter, withoutId, type MongoConnection } from './connection';

/**
 * A GrantRecord as stored. Encryption-context keys are arbitrary strings, and field names
 * beginning with "$" or holding "." are not safe in MongoDB, so constraint maps are stored as
 * [key, value] pairs.
 */
type StoredContext = [string, string][];
export type GrantDoc = Omit<GrantRecord, 'constraints'> & {
  constraints?: { encryptionContextSubset?: StoredContext; encryptionContextEquals?: StoredContext };
};

export class MongoGrantRepository implements GrantRepository {
  constructor(private readonly connection: MongoConnection) {}

  async insert(grant: GrantRecord): Promise<void> {
    await insertUnique(this.collection(), grantToDoc(grant), `grant ${grant.grantId}`);
  }

  async insertWithinLimit(grant: GrantRecord, perKeyLimit: number): Promise<boolean> {
    const connection = this.connection.open();
    return insertWithinLimit(
      connection, connection.grants, grantToDoc(grant), { ...scopeFilter(grant), keyId: grant.keyId }, perKeyLimit,
      { scope: grant, keyId: grant.keyId }, `grant ${grant.grantId}`,
    );
  }

  async get(scope: KeyScope, keyId: string, grantId: string): Promise<GrantRecord | undefined> {
    const doc = await this.collection().findOne({ ...scopeFilter(scope), keyId, grantId });
    return doc ? grantFromDoc(doc) : undefined;
  }

  async findByToken(grantToken: string): Promise<GrantRecord | undefined> {
    const doc = await this.collection().findOne({ grantToken });
    return doc ? grantFromDoc(doc) : undefined;
  }

  async list(
    scope: KeyScope, keyId: string, filter: { grantId?: string; granteePrincipal?: string }, page: PageRequest,
  ): Promise<Page<GrantRecord>> {
    const query: Filter<GrantDoc> = { ...scopeFilter(scope), keyId };
    if (filter.granteePrincipal !== undefined) query.granteePrincipal = filter.granteePrincipal;
    const after = page.marker === undefined ? undefined : decodeMarker('grant', page.marker);
    if (filter.grantId !== undefined || after !== undefined) {
      query.grantId = {
        ...(filter.grantId === undefined ? {} : { $eq: filter.grantId }),
        ...(after === undefined ? {} : { $gt: after }),
      };
    }
    return this.page(query, page.limit);
  }

  async listRetirable(region: string, retiringPrincipal: string, page: PageRequest): Promise<Page<GrantRecord>> {
    const query: Filter<GrantDoc> = { region, retiringPrincipal };
    if (page.marker !== undefined) query.grantId = { $gt: decodeMarker('grant', page.marker) };
    return this.page(query, page.limit);
  }

  async delete(scope: KeyScope, keyId: string, grantId: string): Promise<boolean> {
    const result = await this.collection().deleteOne({ ...scopeFilter(scope), keyId, grantId });
    return result.deletedCount > 0;
  }

  async countForKey(scope: KeyScope, keyId: string): Promise<number> {
    return this.collection().countDocuments({ ...scopeFilter(scope), keyId });
  }

  private async page(query: Filter<GrantDoc>, limit: number): Promise<Page<GrantRecord>> {
    const docs = await this.collection().find(query).sort({ grantId: 1 }).limit(limit + 1).toArray();
    return pageOf(docs, limit, grantFromDoc, (last) => encodeMarker('grant', last.grantId));
  }

  private collection() {
    return this.connection.open().grants;
  }
}

function grantToDoc({ constraints, ...rest }: GrantRecord): GrantDoc {
  if (!constraints) return { ...rest };
  const { encryptionContextSubset: subset, encryptionContextEquals: equals } = constraints;
  return {
    ...rest,
    constraints: {
      ...(subset === undefined ? {} : { encryptionContextSubset: Object.entries(subset) }),
      ...(equals === undefined ? {} : { encryptionContextEquals: Object.entries(equals) }),
    },
  };
}

function grantFromDoc(doc: WithId<GrantDoc>): GrantRecord {
  const { constraints, ...rest } = withoutId(doc);
  if (!constraints) return rest;
  const { encryptionContextSubset: subset, encryptionContextEquals: equals } = constraints;
  const restored: GrantConstraints = {
    ...(subset === undefined ? {} : { encryptionContextSubset: Object.fromEntries(subset) }),
    ...(equals === undefined ? {} : { encryptionContextEquals: Object.fromEntries(equals) }),
  };
  return { ...rest, constraints: restored };
}
