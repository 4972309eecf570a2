// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IHealthOracle} from "../interfaces/IHealthOracle.sol";

/**
 * @title HealthRules
 * @notice What "dead", "usable" and "healthy at a threshold" mean for an endpoint, once, for every contract
 * that decides from health (the registry's failover, the guard's pause and resume, the upkeep).
 *
 * Thresholds are crossed only by values a quorum of attestors supports (health model v2): a market's pause
 * threshold is crossed downward only when at least `quorum` signers reported health under it (`ceilingBps`),
 * and upward only when at least `quorum` reported health at or above it (`floorBps`). A relayer that picks
 * which signatures reach the chain cannot bias either order statistic past the honest attestors (Byzantine
 * quorum intersection: 2f+1 of 3f+1), unlike the median.
 */
library HealthRules {
    /// @notice DOWN or UNKNOWN: nothing to route to. A failover moves off such an endpoint at once.
    function isDead(IHealthOracle.Status status) internal pure returns (bool) {
        return status == IHealthOracle.Status.DOWN || status == IHealthOracle.Status.UNKNOWN;
    }

    /**
     * @notice Usable at `thresholdBps` (bps): HEALTHY or DEGRADED, and no quorum reported health under the
     * threshold (`ceilingBps >= thresholdBps`). An endpoint stops being usable only on quorum evidence.
     */
    function isUsable(
        IHealthOracle.EndpointHealth memory h,
        uint16 thresholdBps
    ) internal pure returns (bool) {
        return
            (h.status == IHealthOracle.Status.HEALTHY || h.status == IHealthOracle.Status.DEGRADED) &&
            h.ceilingBps >= thresholdBps;
    }

    /**
     * @notice Healthy enough to resume at `thresholdBps` (bps): HEALTHY, and a quorum reported health at or
     * above the threshold (`floorBps >= thresholdBps`).
     */
    function isHealthyAt(
        IHealthOracle.EndpointHealth memory h,
        uint16 thresholdBps
    ) internal pure returns (bool) {
        return h.status == IHealthOracle.Status.HEALTHY && h.floorBps >= thresholdBps;
    }
}
