/**
 * Archive member names → system paths: the rules live in shared/backup/member-rules.ts (one set
 * of member-safety rules for restore and verify); re-exported here for the restore modules.
 */
export {
  resolveLinkTarget,
  systemPathOfMember,
  unsafeMember,
  type UnsafeReason,
} from '../../shared/backup/member-rules.js';
