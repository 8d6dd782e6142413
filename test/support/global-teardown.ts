import { rmSync } from 'node:fs';

export default function globalTeardown(): void {
  const root = process.env.KMS_TEST_ROOT;
  if (root && root.includes('hsm-kms-test-')) rmSync(root, { recursive: true, force: true });
}
