// requestMetadata, as each XKS API requires it. Its values are opaque: kmsRequestId and
// kmsOperation are never checked for structure, and an unknown kmsOperation is never refused
// (secondary authorization may still deny it); ARNs are checked for length only, up to 2048
// characters. Members the spec does not list are accepted and ignored.
import { s } from '../api/schema';

const opaque = () => s.string({ max: 2048 });
const arn = () => s.string({ max: 2048 });

/** GetHealthStatus: kmsOperation and kmsRequestId. */
export const healthRequestMetadata = () => s.structure({
  kmsOperation: s.required(opaque()),
  kmsRequestId: s.required(opaque()),
});

const callerFields = () => ({
  kmsOperation: s.required(opaque()),
  kmsRequestId: s.required(opaque()),
  awsPrincipalArn: s.required(arn()),
  awsSourceVpc: opaque(),
  awsSourceVpce: opaque(),
  kmsViaService: opaque(),
});

/** GetKeyMetadata: also awsPrincipalArn; kmsKeyArn only when KMS has a key already (not for CreateKey). */
export const keyRequestMetadata = () => s.structure({ ...callerFields(), kmsKeyArn: arn() });

/** Encrypt and Decrypt: also awsPrincipalArn and kmsKeyArn. */
export const cryptoRequestMetadata = () => s.structure({ ...callerFields(), kmsKeyArn: s.required(arn()) });

/** What secondary authorization reads, whichever API it came with. */
export interface CallerMetadata {
  kmsOperation: string;
  kmsRequestId: string;
  awsPrincipalArn: string;
  kmsKeyArn?: string;
  awsSourceVpc?: string;
  awsSourceVpce?: string;
  kmsViaService?: string;
}
