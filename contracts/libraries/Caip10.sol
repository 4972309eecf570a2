// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @title Caip10
 * @notice Parses the CAIP-10 account ids the EndpointRegistry stores for ORACLE_FEED and SEQUENCER_FEED
 * endpoints, `eip155:<chainId>:0x<40 hex digits>`, with the same grammar as the keepers' `parseCaip10`
 * (keepers/attestor/probes/oracleFeed.ts): a decimal chain id of 1 to 16 digits without a leading zero, then a
 * `0x`-prefixed (lower-case x) 20-byte address in any letter case (the EIP-55 checksum is not checked: the address is what it
 * is, whatever its case). No surrounding whitespace. Pure, so a contract parses a URI once and keeps the result.
 */
library Caip10 {
    /// @dev `eip155:` is 7 bytes; the address part `0x` + 40 hex digits is 42.
    uint256 private constant _PREFIX_LENGTH = 7;
    uint256 private constant _ADDRESS_LENGTH = 42;
    uint256 private constant _MAX_CHAIN_ID_DIGITS = 16;

    /**
     * @notice Parse `uri` as `eip155:<chainId>:<address>`.
     * @return ok False when `uri` does not follow the grammar above (then `chainId` and `account` are 0).
     * @return chainId The EIP-155 chain id, below 10^16.
     * @return account The account (a feed contract for ORACLE_FEED endpoints).
     */
    function parseEip155(
        string memory uri
    ) internal pure returns (bool ok, uint256 chainId, address account) {
        bytes memory b = bytes(uri);
        uint256 length = b.length;
        // Shortest: "eip155:" + 1 digit + ":" + 42.
        if (length < _PREFIX_LENGTH + 2 + _ADDRESS_LENGTH) return (false, 0, address(0));
        if (
            b[0] != "e" ||
            b[1] != "i" ||
            b[2] != "p" ||
            b[3] != "1" ||
            b[4] != "5" ||
            b[5] != "5" ||
            b[6] != ":"
        ) return (false, 0, address(0));
        uint256 digitsEnd = length - _ADDRESS_LENGTH - 1;
        uint256 digits = digitsEnd - _PREFIX_LENGTH;
        if (digits > _MAX_CHAIN_ID_DIGITS || b[_PREFIX_LENGTH] == "0" || b[digitsEnd] != ":") {
            return (false, 0, address(0));
        }
        for (uint256 i = _PREFIX_LENGTH; i < digitsEnd; ++i) {
            uint8 c = uint8(b[i]);
            if (c < 0x30 || c > 0x39) return (false, 0, address(0));
            chainId = chainId * 10 + (c - 0x30);
        }
        uint256 at = digitsEnd + 1;
        if (b[at] != "0" || b[at + 1] != "x") return (false, 0, address(0));
        uint160 value;
        for (uint256 i = at + 2; i < length; ++i) {
            (bool isHex, uint8 nibble) = _hexDigit(uint8(b[i]));
            if (!isHex) return (false, 0, address(0));
            value = (value << 4) | nibble;
        }
        return (true, chainId, address(value));
    }

    function _hexDigit(uint8 c) private pure returns (bool, uint8) {
        if (c >= 0x30 && c <= 0x39) return (true, c - 0x30); // 0-9
        if (c >= 0x61 && c <= 0x66) return (true, c - 0x57); // a-f
        if (c >= 0x41 && c <= 0x46) return (true, c - 0x37); // A-F
        return (false, 0);
    }
}
