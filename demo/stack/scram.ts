export { SCRAM_ITERATIONS, scramVerifier } from '../../src/targets/postgres/scram.js';
