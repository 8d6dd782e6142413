// Secondary authorization (optional, per key store): the key store's IAM-style policy documents,
// evaluated by the policy engine over the call's requestMetadata. Health is never subject to it.
//
//   Action    kms:<kmsOperation>           (kms:Encrypt, kms:GenerateDataKey, kms:CreateKey ...)
//   Resource  kmsKeyArn, or "*" when the request has none (GetKeyMetadata for CreateKey)
//   aws:PrincipalArn, aws:PrincipalAccount   from awsPrincipalArn
//   aws:SourceVpc, aws:SourceVpce, kms:ViaService   when present
//   xks:Operation (GetKeyMetadata, Encrypt, Decrypt), xks:ExternalKeyId, xks:KeyStorePrefix
//
// Only an Allow that applies lets a call through; a Deny that applies wins.
import { evaluatePolicySet, type ConditionValue, type MatchedStatement } from '../access/policy';
import { KmsError } from '../errors';
import type { Clock } from '../ports';
import type { XksCallContext } from './context';
import type { CallerMetadata } from './request-metadata';

export type XksKeyApi = 'GetKeyMetadata' | 'Encrypt' | 'Decrypt';

const principalAccountPattern = /^arn:[a-z][a-z-]*:(?:iam|sts)::(\d{12}):/;

function statement(m: MatchedStatement): string {
  return `policy ${m.policyIndex} statement ${m.statementIndex}${m.sid ? ` (${m.sid})` : ''}`;
}

export function authorizeXksCall(clock: Clock, xks: XksCallContext, api: XksKeyApi, externalKeyId: string, metadata: CallerMetadata): void {
  if (xks.policies.length === 0) return;
  const conditionValues: Record<string, ConditionValue> = {
    'aws:PrincipalArn': metadata.awsPrincipalArn,
    'aws:PrincipalAccount': principalAccountPattern.exec(metadata.awsPrincipalArn)?.[1],
    'aws:SourceVpc': metadata.awsSourceVpc,
    'aws:SourceVpce': metadata.awsSourceVpce,
    'kms:ViaService': metadata.kmsViaService,
    'aws:CurrentTime': clock.now().toISOString(),
    'xks:Operation': api,
    'xks:ExternalKeyId': externalKeyId,
    'xks:KeyStorePrefix': xks.keyStorePrefix,
  };
  const action = `kms:${metadata.kmsOperation}`;
  const decision = evaluatePolicySet({ action, resource: metadata.kmsKeyArn ?? '*', conditionValues, policies: xks.policies });
  // Precondition: with secondary authorization on, a call its key store's policies do not allow is refused as AccessDeniedException.
  if (!decision.allowed) {
    const why = decision.reason === 'explicitDeny' && decision.matched ? `denied by ${statement(decision.matched)}` : 'no statement allows it';
    throw new KmsError('AccessDeniedException', `The key store's policy does not allow this ${api} request.`,
      `secondary authorization: ${action} by ${metadata.awsPrincipalArn} on ${metadata.kmsKeyArn ?? '*'}: ${why}`);
  }
}
