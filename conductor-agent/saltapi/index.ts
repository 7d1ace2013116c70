/** salt-api client: re-exports only. */
export * from './client.js';
export * from './http.js';
export * from './events.js';
export * from './errors.js';
export * from './from-config.js';
export * from './html-error.js';
export * from './salt-event.js';
export * from './sse-parser.js';
export * from './transport.js';
export type * from './types.js';
