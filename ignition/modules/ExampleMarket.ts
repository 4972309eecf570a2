import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

/**
 * The example guarded market on its own, for trying the guard against an existing deployment: a test
 * collateral token (MockERC20 "Vigil Test USD", anyone may mint) and a GuardedPerpMarket that only `guard` may
 * pause, owned by the deployer. Registering it with the guard is the guard owner's call, done afterwards with
 * `vigil register-market` (or by `npm run deploy`'s `markets` list, which deploys the same pair per market).
 *
 *   npx hardhat ignition deploy ignition/modules/ExampleMarket.ts --network localhost \
 *     --parameters '{"ExampleMarket":{"guard":"0x…"}}'
 *
 * Parameters (module `ExampleMarket`): `guard` (required, the MarketGuard address), `markPrice` (collateral
 * base units per 1e18 size; default 2000e18). `vigil deploy-example-market` does the same from the CLI.
 */
export default buildModule("ExampleMarket", (m) => {
  const guard = m.getParameter<string>("guard");
  const collateral = m.contract("MockERC20", ["Vigil Test USD", "vtUSD"], { id: "CollateralToken" });
  const market = m.contract("GuardedPerpMarket", [
    collateral,
    guard,
    m.getAccount(0),
    m.getParameter("markPrice", 2_000n * 10n ** 18n),
  ]);
  return { market, collateral };
});
