// Re-exports only: the agent-channel protocol shared by both agents.
export * from './messages.js';
export * from './codec.js';
export * from './signing-keys.js';
export * from './envelope.js';
export * from './replay-cache.js';
export * from './enroll.js';
