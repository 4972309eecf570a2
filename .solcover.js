// Coverage of the production contracts: the example market and the test mocks are left out.
module.exports = {
  skipFiles: ["examples/", "test/"],
  mocha: { grep: "outage drill|keepers|attestor|responder|vigil CLI", invert: true },
};
