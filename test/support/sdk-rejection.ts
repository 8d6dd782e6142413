// What the AWS SDK's end-to-end tests assert about a call that must fail: it rejects with an
// AWS service error (never a dropped connection), which the test then inspects.
import { KMSServiceException } from '@aws-sdk/client-kms';

/** The rejection of `promise`, which must reject. */
export async function rejection(promise: Promise<unknown>): Promise<KMSServiceException> {
  try {
    await promise;
  } catch (e) {
    expect(e).toBeInstanceOf(KMSServiceException);
    return e as KMSServiceException;
  }
  throw new Error('expected the call to fail');
}
