/** @tally/server: the backend (`tally serve`): store, ingestion, posture evaluation, API. */
export { startServer, createBackend, closeOnSignals, type ServeOptions, type Backend, type RunningServer } from './server.js';
export { buildApp, DEFAULT_CSP, type AppOptions } from './api/app.js';
export { openStore, isPostgresUrl, redactUrl, SQLITE_FILE, type Store, type StoreOptions, type Dialect } from './store/database.js';
export { createToken, listTokens, revokeToken, verifyToken, isRole, type TokenInfo } from './store/tokens.js';
export { getSca, setSca, type ScaSetting } from './store/settings.js';
export { serverVulnDbPath, ServerVulnDb } from './evaluate/vulndb.js';
export { reevaluateAll, type ReevaluateResult } from './evaluate/reevaluate.js';
export { InProcessQueue, type JobQueue, type JobInfo, type JobName } from './jobs/queue.js';
export { startJobs, type Jobs, type JobsOptions } from './jobs/setup.js';
export { addRegistry, getRegistry, listRegistries, removeRegistry, parseRegistryUrl, type RegistryInfo, type RegistryInput } from './jobs/registries.js';
export { enqueueSync } from './jobs/schedule.js';
export { runWorker, type WorkerOptions, type RunningWorker } from './jobs/worker.js';
export { syncNow, type SyncNowOptions, type SyncNowResult } from './jobs/sync-now.js';
export { DEFAULT_SPOOL_LIMITS, type SpoolLimits } from './ingest/spool.js';
export * from './protocol.js';
