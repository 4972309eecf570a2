/**
 * The responder's public names, for the CLI, the tests, the drill and the benches. The responder itself is split
 * by job: service.ts (process wiring), engine.ts (the iteration), views.ts (read-only chain views), sources.ts (the
 * multi-RPC rule), act.ts (simulate, send, the outbox), rounds.ts, recover.ts, delivery.ts, proofs.ts,
 * reconcile.ts, decide.ts (pure decisions).
 */
export { startResponder, type ResponderDeps, type ResponderHandle } from "./service";
export { readDomain } from "./views";
export { submitTarget } from "./rounds";
export { reportEvidence } from "./proofs";
