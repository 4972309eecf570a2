import path from "node:path";
import { expect } from "chai";
import { loadAttestorConfig } from "../../keepers/attestor/config";
import { loadResponderConfig } from "../../keepers/responder/config";

const CONFIG = path.resolve(__dirname, "..", "..", "config");

/** The example files the README points operators to must stay valid against the real schemas. */
describe("example keeper configs", function () {
  it("config/attestor.example.yaml parses with the attestor schema", function () {
    const c = loadAttestorConfig(path.join(CONFIG, "attestor.example.yaml"), {}, {});
    expect(c.probeIntervalMs).to.equal(5000);
    expect(c.thresholds.jsonRpc.headAgeSec.max).to.equal(120);
    expect(c.services).to.have.length(1);
    expect(Object.keys(c.expectedChainIds)).to.deep.equal(c.services);
    expect(c.allowPrivateTargets).to.equal(false);
  });

  it("config/responder.example.yaml parses with the responder schema", function () {
    const c = loadResponderConfig(path.join(CONFIG, "responder.example.yaml"), {});
    expect(c.attestorUrls).to.have.length(3);
    expect(c.services).to.have.length(1);
    expect(c.markets).to.equal(undefined);
    expect(c.fees.bumpPercent).to.equal(12.5);
  });
});
