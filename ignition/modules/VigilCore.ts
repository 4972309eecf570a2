import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

/**
 * The three Vigil contracts, wired: HealthOracle, EndpointRegistry and MarketGuard, with the registry
 * and then the guard registered as the oracle's status listeners (that order: a service that can still
 * fail over is migrated before the guard looks at it). The deployer owns the oracle and the guard;
 * `scripts/deploy.ts` hands ownership to the configured owner at the end (a timelock in production).
 *
 * Parameters (module `VigilCore`), with defaults:
 * - roundSeconds (10 s), maxSkew (15 s), listenerGasLimit (500,000 gas), marketCallGas (200,000 gas)
 * - defaultPolicy: downBelowBps 5,000, upAtBps 8,000, fallRounds 2, riseRounds 2, heartbeat 300 s, maxAge 60 s
 */
export default buildModule("VigilCore", (m) => {
  const deployer = m.getAccount(0);
  const oracle = m.contract("HealthOracle", [
    deployer,
    m.getParameter("roundSeconds", 10),
    m.getParameter("maxSkew", 15),
    m.getParameter("listenerGasLimit", 500_000),
    m.getParameter("defaultPolicy", {
      downBelowBps: 5000,
      upAtBps: 8000,
      fallRounds: 2,
      riseRounds: 2,
      heartbeat: 300,
      maxAge: 60,
    }),
  ]);
  const registry = m.contract("EndpointRegistry", [oracle]);
  const guard = m.contract("MarketGuard", [
    deployer,
    oracle,
    registry,
    m.getParameter("marketCallGas", 200_000),
  ]);
  const listenRegistry = m.call(oracle, "addStatusListener", [registry], { id: "ListenRegistry" });
  m.call(oracle, "addStatusListener", [guard], { id: "ListenGuard", after: [listenRegistry] });
  return { oracle, registry, guard };
});
