// Placeholder until the audit repository of each store lands (work in progress on this branch):
// every call fails, so nothing can mistake it for a trail.
import type { AuditRepository } from '../core/ports';

export const auditNotYetStored: AuditRepository = new Proxy({} as AuditRepository, {
  get: () => () => Promise.reject(new Error('the audit trail is not stored by this store yet')),
});
