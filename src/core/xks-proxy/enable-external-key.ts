// EnableExternalKey (admin command): the key serves Encrypt and Decrypt again, at once.
import { statusChangeOperation } from './admin-fields';

export const enableExternalKey = statusChangeOperation('EnableExternalKey', 'ENABLED');
