export { Prng } from '@runnel/protocol/prng';
