// Who is calling and where: everything an operation needs to know about the request
// besides its parameters.
import type { KeyScope } from '../model';
import type { XksCallContext } from '../xks-proxy/context';

export interface Principal {
  /** arn:aws:iam::<account>:root, arn:aws:iam::<account>:user/<name> or a role ARN. */
  arn: string;
  accountId: string;
  /** Identity (IAM) policy documents attached to the principal, as JSON strings. */
  policies: string[];
  /**
   * Set for a principal that stands for an AWS service integration calling on a user's behalf
   * (for example an S3-compatible store): the kms:ViaService value of its requests, such as
   * s3.us-east-1.amazonaws.com, which AWS managed keys' policies require.
   */
  viaService?: string;
}

export interface RequestContext {
  principal: Principal;
  /** Region from the SigV4 credential scope; selects the region of key ARNs. */
  region: string;
  requestId: string;
  /** For aws:SourceIp and aws:SecureTransport conditions. */
  sourceIp?: string;
  /** The access key id of a SigV4 request, and the client's User-Agent: recorded in the call's event. */
  accessKeyId?: string;
  userAgent?: string;
  secureTransport?: boolean;
  /** Told the ARN of every key the call resolves (the call's resources, for its event). */
  onKeyResolved?: (arn: string, keyStore?: { customKeyStoreId: string; xksKeyId?: string }) => void;
  /** XKS proxy calls: the key store and external key the URI names, and the store's policies. */
  xks?: XksCallContext;
  /**
   * Facts about the call that its event carries as they are (the XKS proxy's kmsRequestId,
   * kmsOperation, key store prefix, external key id). The caller puts only non-secret values here.
   */
  attributes?: Readonly<Record<string, string>>;
}

export function callerScope(ctx: RequestContext): KeyScope {
  return { accountId: ctx.principal.accountId, region: ctx.region };
}

export function isAccountRoot(principal: Principal): boolean {
  return principal.arn === `arn:aws:iam::${principal.accountId}:root`;
}

const principalArnPattern = /^arn:aws:(?:iam|sts)::(\d{12}):(root|user\/.+|role\/.+|assumed-role\/.+)$/;

/** The account of a principal ARN, or undefined if the ARN is not a principal ARN. */
export function accountOfPrincipalArn(arn: string): string | undefined {
  return principalArnPattern.exec(arn)?.[1];
}
