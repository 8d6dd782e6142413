// Grants (KMS-SPEC §1.7, §5.4): which operations each key type can grant, the constraint
// rules, grant ids and tokens, a grant as ListGrants returns it, and grantAllows, which
// authorisation consults for a principal that the policies do not allow.
import { createHash, randomBytes } from 'node:crypto';
import type { CoreDeps } from '../deps';
import { KmsError } from '../errors';
import { encryptionContextField } from '../api/fields';
import { PARTITION } from '../keys/key-id';
import {
  grantOperations, keyArn, type GrantConstraints, type GrantOperation, type GrantRecord, type KeyRecord, type KeyScope,
} from '../model';
import { s } from '../api/schema';

/** Resource quota "Grants per KMS key" (KMS-SPEC §8.1). */
export const MAX_GRANTS_PER_KEY = 50_000;
/** Each constraint holds at most 8 encryption context pairs (CreateGrant, Constraints). */
export const MAX_CONSTRAINT_PAIRS = 8;
/** Each encryption context value in a constraint is at most 384 characters. */
export const MAX_CONSTRAINT_VALUE_LENGTH = 384;

// Field descriptions with AWS's limits (the KMS API model's shapes).
/** PrincipalIdType. */
export const principalIdField = () => s.string({ min: 1, max: 256, pattern: /^[\w+=,.@:/-]+$/ });
/** GrantIdType: the model allows 1-128 characters; grant ids the service issues are 64 hex. */
export const grantIdField = () => s.string({ min: 1, max: 128 });
/** GrantNameType. */
export const grantNameField = () => s.string({ min: 1, max: 256, pattern: /^[a-zA-Z0-9:/_-]+$/ });
/** GrantTokenType. */
export const grantTokenField = () => s.string({ min: 1, max: 8192 });
/** GrantOperationList: at least one operation, each from the GrantOperation enum. */
export const grantOperationsField = () => s.list(s.enum(grantOperations), { min: 1 });
export const grantConstraintsField = () =>
  s.structure({ EncryptionContextSubset: encryptionContextField(), EncryptionContextEquals: encryptionContextField() });

/** The messages of grant errors. AWS's wording for these was not recorded; they are ours. */
export const grantMessages = {
  invalidGrantId: (grantId: string) => `Invalid grantId '${grantId}'`,
  grantNotFound: (grantId: string, keyArn: string) => `Grant ID ${grantId} not found for key ${keyArn}`,
  invalidGrantToken: 'The grant token is not valid: it is malformed or its grant no longer exists.',
  invalidPrincipal: (principal: string) =>
    `${principal} is not a valid principal ARN: use the ARN of an account (root), IAM user, IAM role, federated user or assumed role`,
  operationsNotValid: (operations: string[], key: KeyRecord) =>
    `Grant operations [${operations.join(', ')}] are not valid for a key with KeySpec ${key.keySpec} and KeyUsage ${key.keyUsage}`,
  constraintsNotValid: (key: KeyRecord) =>
    `Encryption context grant constraints are supported only on symmetric encryption keys, not on a key with KeySpec ${key.keySpec} and KeyUsage ${key.keyUsage}`,
  tooManyPairs: (member: string) => `${member} can have at most ${MAX_CONSTRAINT_PAIRS} encryption context pairs`,
  valueTooLong: (member: string) => `An encryption context value in ${member} can have at most ${MAX_CONSTRAINT_VALUE_LENGTH} characters`,
  tooManyGrants: (keyArn: string) => `${keyArn} already has ${MAX_GRANTS_PER_KEY} grants, the most a KMS key can have`,
  retireTarget: 'Specify either a GrantToken, or a KeyId and a GrantId',
  tokenAndIdDiffer: 'The GrantToken and the GrantId in the request identify different grants',
  retireDenied: (principalArn: string, keyArn: string) =>
    `User: ${principalArn} is not authorized to perform: kms:RetireGrant on resource: ${keyArn} because the grant does not name it as retiring principal, as grantee with the RetireGrant operation, or as its issuing account`,
  foreignRetiringPrincipal: (principalArn: string, retiringPrincipal: string) =>
    `User: ${principalArn} is not authorized to perform: kms:ListRetirableGrants on resource: ${retiringPrincipal} because the retiring principal is not in the caller's account`,
} as const;

// ---------------------------------------------------------------------------------------------
// Which operations a key can grant

const symmetricEncryptionOperations: readonly GrantOperation[] = [
  'Decrypt', 'Encrypt', 'GenerateDataKey', 'GenerateDataKeyPair', 'GenerateDataKeyPairWithoutPlaintext',
  'GenerateDataKeyWithoutPlaintext', 'ReEncryptFrom', 'ReEncryptTo', 'CreateGrant', 'DescribeKey', 'RetireGrant',
];
const asymmetricEncryptionOperations: readonly GrantOperation[] = [
  'Decrypt', 'Encrypt', 'ReEncryptFrom', 'ReEncryptTo', 'GetPublicKey', 'DescribeKey', 'CreateGrant', 'RetireGrant',
];
const signingOperations: readonly GrantOperation[] = ['Sign', 'Verify', 'GetPublicKey', 'DescribeKey', 'CreateGrant', 'RetireGrant'];
const macOperations: readonly GrantOperation[] = ['GenerateMac', 'VerifyMac', 'DescribeKey', 'CreateGrant', 'RetireGrant'];
const keyAgreementOperations: readonly GrantOperation[] = ['DeriveSharedSecret', 'GetPublicKey', 'DescribeKey', 'CreateGrant', 'RetireGrant'];
/** ML-KEM keys: no grant operation names Decapsulate, so only the public key and management. */
const kemOperations: readonly GrantOperation[] = ['GetPublicKey', 'DescribeKey', 'CreateGrant', 'RetireGrant'];

export function isSymmetricEncryptionKey(key: Pick<KeyRecord, 'keySpec' | 'keyUsage'>): boolean {
  return key.keySpec === 'SYMMETRIC_DEFAULT' && key.keyUsage === 'ENCRYPT_DECRYPT';
}

/** The grant operations a key of this spec and usage supports. */
export function grantableOperations(key: Pick<KeyRecord, 'keySpec' | 'keyUsage'>): readonly GrantOperation[] {
  switch (key.keyUsage) {
    case 'ENCRYPT_DECRYPT': return isSymmetricEncryptionKey(key) ? symmetricEncryptionOperations : asymmetricEncryptionOperations;
    case 'SIGN_VERIFY': return signingOperations;
    case 'GENERATE_VERIFY_MAC': return macOperations;
    case 'KEY_AGREEMENT': return keyAgreementOperations;
    case 'ENCAPSULATE_DECAPSULATE': return kemOperations;
  }
}

/** The request's operations without repeats, in the order first named. */
export function distinctOperations(operations: readonly GrantOperation[]): GrantOperation[] {
  return [...new Set(operations)];
}

// Precondition: a grant allows only operations that its key type supports.
export function assertOperationsGrantable(key: KeyRecord, operations: readonly GrantOperation[]): void {
  const supported = grantableOperations(key);
  const refused = operations.filter((operation) => !supported.includes(operation));
  if (refused.length > 0) throw new KmsError('ValidationException', grantMessages.operationsNotValid(refused, key));
}

// ---------------------------------------------------------------------------------------------
// Principals

const principalArnPattern = /^arn:aws:(?:iam|sts)::(\d{12}):(?:root|user\/.+|role\/.+|assumed-role\/.+|federated-user\/.+)$/;

/** The account of a principal ARN, or undefined if it is not one. */
export function accountOfPrincipal(principal: string): string | undefined {
  return principalArnPattern.exec(principal)?.[1];
}

// Precondition: grantee and retiring principals are principal ARNs.
export function assertPrincipalArn(principal: string): void {
  if (!principalArnPattern.test(principal)) throw new KmsError('InvalidArnException', grantMessages.invalidPrincipal(principal));
}

export function accountRootArn(accountId: string): string {
  return `arn:${PARTITION}:iam::${accountId}:root`;
}

// ---------------------------------------------------------------------------------------------
// Constraints

/** Constraints as the request gave them, or undefined when it gave none. */
export function constraintsFromRequest(
  request: { EncryptionContextSubset?: Record<string, string>; EncryptionContextEquals?: Record<string, string> } | undefined,
): GrantConstraints | undefined {
  if (!request) return undefined;
  const { EncryptionContextSubset: subset, EncryptionContextEquals: equals } = request;
  if (subset === undefined && equals === undefined) return undefined;
  // Plain objects: the decoder's null-prototype maps are copied into ordinary records.
  return {
    ...(subset === undefined ? {} : { encryptionContextSubset: { ...subset } }),
    ...(equals === undefined ? {} : { encryptionContextEquals: { ...equals } }),
  };
}

/** The size limits of each constraint; they need no key. */
export function checkConstraintLimits(constraints: GrantConstraints | undefined): void {
  const members = [
    ['EncryptionContextSubset', constraints?.encryptionContextSubset],
    ['EncryptionContextEquals', constraints?.encryptionContextEquals],
  ] as const;
  for (const [member, context] of members) {
    if (!context) continue;
    // Precondition: a grant constraint holds at most 8 encryption context pairs.
    if (Object.keys(context).length > MAX_CONSTRAINT_PAIRS) throw new KmsError('ValidationException', grantMessages.tooManyPairs(member));
    // Precondition: an encryption context value in a grant constraint has at most 384 characters.
    if (Object.values(context).some((value) => [...value].length > MAX_CONSTRAINT_VALUE_LENGTH)) {
      throw new KmsError('ValidationException', grantMessages.valueTooLong(member));
    }
  }
}

// Precondition: encryption context constraints are accepted only on grants for symmetric encryption keys.
export function assertConstraintsAllowed(key: KeyRecord, constraints: GrantConstraints | undefined): void {
  if (constraints && !isSymmetricEncryptionKey(key)) throw new KmsError('ValidationException', grantMessages.constraintsNotValid(key));
}

type Context = Readonly<Record<string, string>>;

/**
 * Whether `context` holds every pair of `required`. As the API reference specifies for grant
 * constraints, keys compare case-insensitively and values case-sensitively.
 */
function includesPairs(context: Context, required: Context): boolean {
  const pairs = Object.entries(context).map(([key, value]) => [key.toLowerCase(), value] as const);
  return Object.entries(required).every(([key, value]) => {
    const wanted = key.toLowerCase();
    return pairs.some(([k, v]) => k === wanted && v === value);
  });
}

/** EncryptionContextSubset: the request holds every pair of the constraint, and may hold more. */
export function subsetMatches(constraint: Context, context: Context): boolean {
  return includesPairs(context, constraint);
}

/** EncryptionContextEquals: the request holds exactly the constraint's pairs, in any order. */
export function equalsMatches(constraint: Context, context: Context): boolean {
  return Object.keys(constraint).length === Object.keys(context).length
    && includesPairs(context, constraint) && includesPairs(constraint, context);
}

/** Whether a request with `context` meets every constraint of the grant. */
export function constraintsSatisfied(constraints: GrantConstraints | undefined, context: Context): boolean {
  if (constraints?.encryptionContextEquals && !equalsMatches(constraints.encryptionContextEquals, context)) return false;
  if (constraints?.encryptionContextSubset && !subsetMatches(constraints.encryptionContextSubset, context)) return false;
  return true;
}

/**
 * Whether every encryption context a child grant's constraints admit is also admitted by the
 * parent's: a child may add Subset pairs, or go from Subset to Equals, but never loosen.
 */
export function constraintsWithin(parent: GrantConstraints | undefined, child: GrantConstraints | undefined): boolean {
  if (!parent || (parent.encryptionContextEquals === undefined && parent.encryptionContextSubset === undefined)) return true;
  // A child with Equals admits at most that one context.
  if (child?.encryptionContextEquals !== undefined) return constraintsSatisfied(parent, child.encryptionContextEquals);
  // Without Equals the child admits contexts of any size, which a parent with Equals never does.
  if (parent.encryptionContextEquals !== undefined) return false;
  return subsetMatches(parent.encryptionContextSubset ?? {}, child?.encryptionContextSubset ?? {});
}

/** Operations whose request carries an encryption context, so constraints apply to them. */
const contextOperations: ReadonlySet<string> = new Set<GrantOperation>([
  'Encrypt', 'Decrypt', 'ReEncryptFrom', 'ReEncryptTo', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext',
  'GenerateDataKeyPair', 'GenerateDataKeyPairWithoutPlaintext',
]);

// ---------------------------------------------------------------------------------------------
// Grant ids and tokens

const GRANT_ID_PATTERN = /^[0-9a-f]{64}$/;
const TOKEN_VERSION = 1;
/** Version byte, the 32 bytes of the grant id, 32 random bytes. */
const TOKEN_LENGTH = 1 + 32 + 32;

export function isGrantId(value: string): boolean {
  return GRANT_ID_PATTERN.test(value);
}

// Precondition: a grant id must be 64 hexadecimal characters.
export function assertGrantId(grantId: string): void {
  if (!isGrantId(grantId)) throw new KmsError('InvalidGrantIdException', grantMessages.invalidGrantId(grantId));
}

/** What makes two named CreateGrant requests the same grant (AWS: same Name and identical parameters). */
export interface GrantIdentity {
  scope: KeyScope;
  keyId: string;
  issuingAccount: string;
  name: string;
  granteePrincipal: string;
  retiringPrincipal?: string;
  operations: readonly GrantOperation[];
  constraints?: GrantConstraints;
}

const sortedPairs = (context: Context | undefined) =>
  context === undefined ? null : Object.entries(context).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/**
 * A named grant's id is a digest of everything that identifies it, so a retried CreateGrant
 * maps to the same id and the store's unique grant id makes the retry idempotent even when
 * the two requests race. Operation order and repeats do not matter.
 */
export function namedGrantId(identity: GrantIdentity): string {
  const canonical = JSON.stringify([
    'hsm-kms named grant v1',
    identity.scope.accountId, identity.scope.region, identity.keyId, identity.issuingAccount, identity.name,
    identity.granteePrincipal, identity.retiringPrincipal ?? null,
    [...new Set(identity.operations)].sort(),
    sortedPairs(identity.constraints?.encryptionContextSubset),
    sortedPairs(identity.constraints?.encryptionContextEquals),
  ]);
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}

/** An unnamed grant's id: 32 random bytes in hex. */
export function randomGrantId(): string {
  return randomBytes(32).toString('hex');
}

/**
 * A grant token: base64 of a version byte, the grant id and 32 random bytes. It is not a
 * secret, but nobody can make one from a grant id: the random part exists only in the store.
 */
export function newGrantToken(grantId: string): string {
  return Buffer.concat([Buffer.from([TOKEN_VERSION]), Buffer.from(grantId, 'hex'), randomBytes(32)]).toString('base64');
}

/** The grant id inside a well-formed token, or undefined for anything the service did not issue. */
export function grantIdInToken(token: string): string | undefined {
  const bytes = Buffer.from(token, 'base64');
  // Re-encoding catches what Buffer.from silently skips: characters outside base64, and garbage.
  if (bytes.length !== TOKEN_LENGTH || bytes[0] !== TOKEN_VERSION || bytes.toString('base64') !== token) return undefined;
  return bytes.subarray(1, 33).toString('hex');
}

// Precondition: a grant token must be one the service issued for a grant that still exists.
export async function grantForToken(deps: CoreDeps, token: string): Promise<GrantRecord> {
  const grantId = grantIdInToken(token);
  const grant = grantId === undefined ? undefined : await deps.store.grants.findByToken(token);
  if (!grant || grant.grantId !== grantId) throw new KmsError('InvalidGrantTokenException', grantMessages.invalidGrantToken);
  return grant;
}

/** The grants a request's GrantTokens name; throws InvalidGrantTokenException for any token that names none. */
export async function grantsForTokens(deps: CoreDeps, tokens: readonly string[] | undefined): Promise<GrantRecord[]> {
  const grants: GrantRecord[] = [];
  for (const token of tokens ?? []) grants.push(await grantForToken(deps, token));
  return grants;
}

// ---------------------------------------------------------------------------------------------
// Listing

/** One entry of ListGrants' and ListRetirableGrants' `Grants`. */
export function grantListEntry(grant: GrantRecord) {
  const { encryptionContextSubset, encryptionContextEquals } = grant.constraints ?? {};
  return {
    KeyId: keyArn(PARTITION, grant, grant.keyId),
    GrantId: grant.grantId,
    Name: grant.name,
    CreationDate: grant.createdAt,
    GranteePrincipal: grant.granteePrincipal,
    RetiringPrincipal: grant.retiringPrincipal,
    IssuingAccount: accountRootArn(grant.issuingAccount),
    Operations: grant.operations,
    Constraints: grant.constraints
      ? { EncryptionContextSubset: encryptionContextSubset, EncryptionContextEquals: encryptionContextEquals }
      : undefined,
  };
}

// ---------------------------------------------------------------------------------------------
// Authorisation by grants

/** Who may retire a grant: its retiring principal, its grantee if it allows RetireGrant, and its issuing account. */
export function mayRetire(grant: GrantRecord, principalArn: string): boolean {
  return grant.retiringPrincipal === principalArn
    || (grant.granteePrincipal === principalArn && grant.operations.includes('RetireGrant'))
    || accountRootArn(grant.issuingAccount) === principalArn;
}

export interface GrantRequest {
  /** The key the request uses. */
  key: KeyRecord;
  /** The ARN of the calling principal. */
  granteeArn: string;
  /** The operation as a grant names it: ReEncrypt is ReEncryptFrom on the source key and ReEncryptTo on the destination. */
  action: string;
  /** The request's encryption context, for operations that take one. */
  encryptionContext?: Readonly<Record<string, string>>;
  grantTokens?: readonly string[];
  /** For CreateGrant: the grant being created, which must not exceed the grant that allows it. */
  childGrant?: { operations: readonly GrantOperation[]; constraints?: GrantConstraints };
}

function isGrantOperation(action: string): action is GrantOperation {
  return (grantOperations as readonly string[]).includes(action);
}

function onKey(grant: GrantRecord, key: KeyRecord): boolean {
  return grant.accountId === key.accountId && grant.region === key.region && grant.keyId === key.keyId;
}

/** Whether this one grant allows the request. Pure; grantAllows gathers the grants. */
export function grantPermits(grant: GrantRecord, request: Omit<GrantRequest, 'grantTokens'>): boolean {
  // Precondition: a grant allows only its own key.
  if (!onKey(grant, request.key)) return false;
  // Precondition: a grant allows only its grantee principal, named by its exact ARN.
  if (grant.granteePrincipal !== request.granteeArn) return false;
  // Precondition: a grant allows only the operations it lists.
  if (!isGrantOperation(request.action) || !grant.operations.includes(request.action)) return false;
  // Precondition: the encryption context constraints of a grant hold for every operation that takes an encryption context.
  if (contextOperations.has(request.action) && !constraintsSatisfied(grant.constraints, request.encryptionContext ?? {})) return false;
  if (request.action === 'CreateGrant' && request.childGrant) {
    const { operations, constraints } = request.childGrant;
    // Precondition: a grant created under a grant allows no operation and no encryption context that grant does not.
    if (!operations.every((operation) => grant.operations.includes(operation))) return false;
    if (!constraintsWithin(grant.constraints, constraints)) return false;
  }
  return true;
}

/** How many grants one store call reads while looking for one that allows a request. */
const SCAN_PAGE = 1000;

/**
 * Whether some grant on the key allows the request: the grants naming the caller as grantee,
 * plus those the request's GrantTokens name. Grants here are consistent at once, so a token
 * adds nothing a stored grant does not, but every token must be valid: one that names no
 * grant fails the request with InvalidGrantTokenException, as in AWS.
 */
export async function grantAllows(deps: CoreDeps, request: GrantRequest): Promise<boolean> {
  const byToken = await grantsForTokens(deps, request.grantTokens);
  if (byToken.some((grant) => grantPermits(grant, request))) return true;
  if (!isGrantOperation(request.action)) return false;
  const { key } = request;
  let marker: string | undefined;
  do {
    const page = await deps.store.grants.list(key, key.keyId, { granteePrincipal: request.granteeArn }, { limit: SCAN_PAGE, marker });
    if (page.items.some((grant) => grantPermits(grant, request))) return true;
    marker = page.nextMarker;
  } while (marker !== undefined);
  return false;
}
