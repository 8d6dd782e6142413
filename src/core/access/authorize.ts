// Authorisation, evaluated on every call the way AWS does it: an explicit Deny in the key
// policy or the caller's identity policies wins; then the key policy (directly, or by
// delegation to the account and the caller's identity policies); then grants; otherwise
// denied. Operations without a key resource are decided by identity policies alone.
import type { RequestContext } from '../api/context';
import type { CoreDeps } from '../deps';
import { KmsError } from '../errors';
import { grantAllows, type GrantRequest } from './grants';
import type { KeyRecord, Tag } from '../model';
import { accessDeniedMessage, buildConditionValues, defaultKeyPolicy, evaluateAccess, type ConditionValue } from './policy';

export interface AuthorizationRequest {
  /** The API action without the "kms:" prefix, e.g. "Encrypt" or "ReEncryptFrom". */
  action: string;
  /** The key the request acts on; absent for CreateKey, ListKeys, ListAliases, GenerateRandom ... */
  key?: { record: KeyRecord; arn: string; viaAlias?: string };
  /** The request's encryption context (kms:EncryptionContext:*, grant constraints). */
  encryptionContext?: Readonly<Record<string, string>>;
  /** Tags the request sets (aws:RequestTag/*, aws:TagKeys). */
  requestTags?: readonly Tag[];
  /** Request-specific condition keys, with AWS's defaults filled in for omitted parameters. */
  conditions?: Readonly<Record<string, ConditionValue>>;
  grantTokens?: readonly string[];
  /** CreateGrant: the grant being created, which a grant-derived permission may not exceed. */
  childGrant?: GrantRequest['childGrant'];
}

const tagMap = (tags: readonly Tag[] | undefined) => (tags ? Object.fromEntries(tags.map((t) => [t.TagKey, t.TagValue])) : undefined);

async function aliasesOf(deps: CoreDeps, key: KeyRecord): Promise<string[]> {
  const page = await deps.store.aliases.list(key, { keyId: key.keyId }, { limit: 100 });
  return page.items.map((a) => a.aliasName);
}

/** Mentions of kms:ResourceAliases are rare; only then is the extra alias lookup paid for. */
function mentionsResourceAliases(policies: readonly string[]): boolean {
  return policies.some((p) => /kms:resourcealiases/i.test(p));
}

// Precondition: every call is allowed only by a key policy, an identity policy or a grant, and never against an explicit deny.
export async function authorize(deps: CoreDeps, ctx: RequestContext, request: AuthorizationRequest): Promise<void> {
  const principal = ctx.principal;
  const key = request.key?.record;
  const keyPolicy = key ? key.policy ?? defaultKeyPolicy(key.accountId) : undefined;
  const conditionValues = buildConditionValues({
    principalArn: principal.arn,
    principalAccount: principal.accountId,
    sourceIp: ctx.sourceIp,
    secureTransport: ctx.secureTransport,
    now: deps.clock.now(),
    keyTags: tagMap(key?.tags),
    keyAliases: key && mentionsResourceAliases(principal.policies) ? await aliasesOf(deps, key) : undefined,
    keySpec: key?.keySpec,
    keyUsage: key?.keyUsage,
    keyOrigin: key?.origin,
    encryptionContext: request.encryptionContext,
    requestTags: tagMap(request.requestTags),
    extra: {
      'kms:CallerAccount': principal.accountId,
      ...(principal.viaService ? { 'kms:ViaService': principal.viaService } : {}),
      ...(request.key?.viaAlias ? { 'kms:RequestAlias': request.key.viaAlias } : {}),
      // Multi-Region keys: kms:MultiRegion for every key, kms:MultiRegionKeyType for multi-Region ones.
      ...(key ? { 'kms:MultiRegion': key.multiRegion } : {}),
      ...(key?.multiRegion && key.multiRegionKeyType ? { 'kms:MultiRegionKeyType': key.multiRegionKeyType } : {}),
      ...request.conditions,
    },
  });
  const context = {
    principal: { arn: principal.arn, accountId: principal.accountId },
    action: request.action,
    resource: request.key ? { arn: request.key.arn, accountId: request.key.record.accountId } : undefined,
    conditionValues,
  };
  let decision = evaluateAccess({ context, keyPolicy, identityPolicies: principal.policies });
  // Grants are looked up only when no policy decided: they can only add to an implicit deny.
  if (!decision.allowed && decision.reason === 'implicitDeny' && key) {
    const granted = await grantAllows(deps, {
      key, granteeArn: principal.arn, action: request.action,
      encryptionContext: request.encryptionContext, grantTokens: request.grantTokens, childGrant: request.childGrant,
    });
    if (granted) decision = evaluateAccess({ context, keyPolicy, identityPolicies: principal.policies, grantAllows: true });
  } else if (request.grantTokens?.length && key) {
    // Tokens are checked even when policies allow, so a bad one is always reported.
    await grantAllows(deps, { key, granteeArn: principal.arn, action: request.action, grantTokens: request.grantTokens });
  }
  if (!decision.allowed) {
    // KMS words an implicit deny on a key in terms of the key policy, the control every key
    // has ("no resource-based policy allows"); keyless operations in terms of identity policies.
    const wording = decision.reason === 'implicitDeny' ? { ...decision, deniedBy: key ? 'resource' as const : 'identity' as const } : decision;
    throw new KmsError('AccessDeniedException', accessDeniedMessage(wording, { principalArn: principal.arn, action: request.action, resource: request.key?.arn ?? '*' }));
  }
}
