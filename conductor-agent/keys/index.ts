/** The Salt master key lifecycle (re-exports only). `agent-key.ts` (the agent's Ed25519 key) lives beside it but is not part of this API. */
export { masterKeyStatus, type MasterKeyStatus, type MasterKeyStatusOptions, type PendingKey } from './status.js';
export {
  enableSigning,
  planEnableSigning,
  type EnableSigningOptions,
  type EnableSigningReport,
} from './enable-signing.js';
export { rotateMasterKey, rotationPreflight, type RotateOptions, type RotateReport } from './rotate.js';
export { rollbackRotation, type RollbackOptions, type RollbackReport } from './rollback.js';
export {
  acceptVerified,
  planVerifiedAccept,
  pkiKeyAcceptor,
  type AcceptVerifiedOptions,
  type AcceptVerifiedReport,
  type KeyAcceptor,
} from './accept.js';
export {
  expectedFromFile,
  expectedFromFlags,
  parseExpectedFingerprints,
  staticExpected,
  type ExpectedFingerprints,
} from './expected-fingerprints.js';
export { saltApiMinionProbe, type MinionProbe, type SaltLocalCaller, type SigningReport } from './minion-probe.js';
export { evaluateReadiness, type Readiness } from './readiness.js';
export { waitForMinions, type WaitResult } from './wait-for-minions.js';
export { signMasterPub, verifyMasterPubSignature, signedMessage } from './signature.js';
export { generateSaltKeyPair, isKeyPair, publicKeyOf } from './rsa.js';
export type { PlannedChange } from './changes.js';
