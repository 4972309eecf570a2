// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {OCR2Base} from "@chainlink/contracts/src/v0.8/shared/ocr2/OCR2Base.sol";

/**
 * @title OCR2HealthBench
 * @notice Benchmark anchor only, never deployed: the smallest concrete Chainlink OCR2 contract that carries the
 * same information as one Vigil health round, so `npm run bench:gas` can print Vigil's `submit` gas next to
 * OCR2's `transmit` gas at the same signature and endpoint counts.
 *
 * Everything on the hot path is Chainlink's `shared/ocr2/OCR2Base.sol` (npm package 1.2.0) unchanged: config digest
 * check, exact calldata length, exactly `(n + f) / 2 + 1` signatures (`uniqueReports = true`, the Byzantine
 * quorum, as Vigil's 2f+1 of 3f+1), one `ecrecover` per signature over `keccak256(keccak256(report) ‖
 * reportContext)`, signer lookup, duplicate check, the `Transmitted` event. This contract adds what OCR2's
 * `OCR2Aggregator` adds around it: an `epochAndRound` that only moves forward (replay protection), and a
 * `_report` that stores one value per endpoint in one storage slot each.
 *
 * Report: `abi.encode(uint64 observedAt, bytes32[] endpointIds, bytes values)` with `values` packed 4 bytes per
 * endpoint in the order of `endpointIds` (healthBps uint16 big-endian, badRounds u8, goodRounds u8): the
 * same bytes as one Vigil `SignedReport.values`. Unlike Vigil, OCR2's report is the single outcome the
 * oracle network agreed on off-chain, so it is carried once rather than once per signer.
 */
contract OCR2HealthBench is OCR2Base {
    /// @notice What `_report` stores per endpoint: one slot, as `OCR2Aggregator.Transmission`.
    /// @param value The endpoint's 4 report bytes (healthBps << 16 | badRounds << 8 | goodRounds).
    /// @param observedAt The report's observation time, Unix seconds.
    /// @param transmittedAt Block time of the transmission, Unix seconds.
    struct Transmission {
        uint32 value;
        uint64 observedAt;
        uint64 transmittedAt;
    }

    /// @notice The report carries `valueBytes` bytes of values for `endpoints` endpoints (4 bytes each expected).
    error OCR2HealthBenchMalformedReport(uint256 endpoints, uint256 valueBytes);

    uint32 private _latestEpochAndRound;
    mapping(bytes32 endpointId => Transmission) private _transmissions;

    constructor() OCR2Base(true) {}

    /// @notice Latest stored transmission of `endpointId` (zero when never reported).
    function latestTransmission(bytes32 endpointId) external view returns (Transmission memory) {
        return _transmissions[endpointId];
    }

    /// @notice Latest accepted `epoch << 8 | round` under the current config.
    function latestEpochAndRound() external view returns (uint32) {
        return _latestEpochAndRound;
    }

    /// @notice Contract type and version (Chainlink `ITypeAndVersion`).
    function typeAndVersion() external pure override returns (string memory) {
        return "OCR2HealthBench 1.0.0";
    }

    function _beforeSetConfig(uint8, bytes memory) internal override {}

    /// @dev A new config starts its epochs again, as `OCR2Aggregator.setConfig` resets `latestEpochAndRound`.
    function _afterSetConfig(uint8, bytes memory) internal override {
        _latestEpochAndRound = 0;
    }

    /// @dev Replay protection, as `OCR2Aggregator.transmit`: only a newer `epochAndRound` is accepted.
    function _validateReport(bytes32, uint40 epochAndRound, bytes memory) internal override returns (bool) {
        if (epochAndRound <= _latestEpochAndRound) return false;
        _latestEpochAndRound = uint32(epochAndRound);
        return true;
    }

    /// @dev Stores one slot per endpoint of the report.
    function _report(
        uint256,
        address,
        uint8,
        address[MAX_NUM_ORACLES] memory,
        bytes calldata report
    ) internal override {
        (uint64 observedAt, bytes32[] memory endpointIds, bytes memory values) = abi.decode(
            report,
            (uint64, bytes32[], bytes)
        );
        uint256 count = endpointIds.length;
        if (values.length != count * 4) revert OCR2HealthBenchMalformedReport(count, values.length);
        for (uint256 i; i < count; ++i) {
            uint32 value;
            // solhint-disable-next-line no-inline-assembly
            assembly ("memory-safe") {
                value := shr(224, mload(add(add(values, 0x20), mul(i, 4))))
            }
            _transmissions[endpointIds[i]] = Transmission({
                value: value,
                observedAt: observedAt,
                transmittedAt: uint64(block.timestamp)
            });
        }
    }
}
