/**
 * The modes a restore writes: as recorded (manifest, else tar header), but never looser than the
 * trust model allows for private areas (DESIGN.md rule 6): private files 0600, folders 0700. The
 * rule lives with the other member rules (shared/backup/member-rules.ts).
 */
export { safeMode } from '../../shared/backup/member-rules.js';
