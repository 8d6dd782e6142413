// DisableExternalKey (admin command): from the next call on, Encrypt and Decrypt with the key
// answer InvalidStateException and GetKeyMetadata reports DISABLED, on every instance.
import { statusChangeOperation } from './admin-fields';

export const disableExternalKey = statusChangeOperation('DisableExternalKey', 'DISABLED');
