export { DEFAULT_IGNORE_LIMITS, IGNORE_FILE_NAME, ignoreRuleMatches, isExpired, parseExpiry, parseIgnoreFile, readIgnoreFile, type IgnoreFile, type IgnoreLimits, type IgnoreRule } from './ignore.js';
export { decidingStatement, imageDigests, MAX_VEX_BYTES, parseOpenVex, readVexFile, statementApplies, vexSubject, type VexDocument, type VexStatement, type VexSubject } from './vex.js';
export { applySuppressions, type SuppressionInput } from './suppress.js';
export { atLeast, evaluatePolicy, parseFailOn, type Policy, type PolicyResult } from './gate.js';
