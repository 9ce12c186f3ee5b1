export * from './config.js';
export * from './daemon.js';
export * from './logger.js';
export * from './meta-properties.js';
export * from './broker-role.js';
export { parseProperties } from './properties-file.js';
export type { PropertyValue } from './properties-file.js';
export * from './quorum-service.js';
