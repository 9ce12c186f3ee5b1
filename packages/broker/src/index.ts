export * from './log/index.js';
export * from './replica/index.js';
