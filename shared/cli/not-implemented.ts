import { RecoveryError } from '../errors.js';

/** Action body for a command whose capability is not built yet: a clear, stable error. */
export function notImplemented(what: string): never {
  throw new RecoveryError('NOT_IMPLEMENTED', `${what} is not available in this build yet`, {
    hint: 'See README.md "Status" for what each command does today.',
  });
}
