package dev.droptrace.agent.source.calico;

import dev.droptrace.agent.event.Direction;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPort;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPortBuilder;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Kubernetes policy facts: policyTypes defaulting and Calico's rule counts after conversion. */
class KnownPoliciesTest {
    static NetworkPolicyPort port(String protocol, Integer port) {
        NetworkPolicyPortBuilder b = new NetworkPolicyPortBuilder();
        if (protocol != null) b.withProtocol(protocol);
        if (port != null) b.withPort(new IntOrString(port));
        return b.build();
    }

    @Test
    void calicoRuleCountsFollowK8sRuleToCalico() {
        assertEquals(1, KnownPolicies.calicoRules(0, null), "no peers, no ports: one allow-all rule");
        assertEquals(3, KnownPolicies.calicoRules(3, List.of()), "one rule per peer");
        assertEquals(1, KnownPolicies.calicoRules(0, List.of(port(null, 80), port("TCP", 443))), "TCP is the default protocol");
        assertEquals(2, KnownPolicies.calicoRules(0, List.of(port("TCP", 80), port("UDP", 53))));
        assertEquals(4, KnownPolicies.calicoRules(2, List.of(port("TCP", 80), port("UDP", 53), port("UDP", 5353))));
        assertEquals(2, KnownPolicies.calicoRules(2, List.of(port("TCP", 80), port(null, null))), "an empty port allows all");
        assertEquals(1, KnownPolicies.calicoRules(1, List.of(port("SCTP", null))));
    }

    @Test
    void policyTypesDefaulting() {
        var noTypes = new NetworkPolicyBuilder().withNewMetadata().withNamespace("ns").withName("a").endMetadata()
                .withNewSpec().withNewPodSelector().endPodSelector().endSpec().build();
        var e = KnownPolicies.entry(noTypes);
        assertTrue(e.ingress());
        assertFalse(e.egress());
        var withEgress = new NetworkPolicyBuilder(noTypes).editSpec().addNewEgress().endEgress().endSpec().build();
        assertTrue(KnownPolicies.entry(withEgress).egress());
        assertTrue(KnownPolicies.entry(withEgress).ingress());
        var egressOnly = new NetworkPolicyBuilder(noTypes).editSpec().withPolicyTypes("Egress").endSpec().build();
        assertFalse(KnownPolicies.entry(egressOnly).ingress());
        assertTrue(KnownPolicies.entry(egressOnly).egress());
        assertTrue(KnownPolicies.entry(egressOnly).isolates("ns", Map.of(), Direction.EGRESS));
        assertFalse(KnownPolicies.entry(egressOnly).isolates("ns", Map.of(), Direction.INGRESS));
        assertFalse(KnownPolicies.entry(egressOnly).isolates("other", Map.of(), Direction.EGRESS));
    }

    @Test
    void knownPolicyOfAKubernetesPolicy() {
        var np = new NetworkPolicyBuilder().withNewMetadata().withNamespace("default").withName("allow-frontend").endMetadata()
                .withNewSpec().withNewPodSelector().addToMatchLabels("app", "backend").endPodSelector()
                .addNewIngress().addNewFrom().withNewPodSelector().addToMatchLabels("app", "frontend").endPodSelector().endFrom()
                .withPorts(port("TCP", 80)).endIngress()
                .addNewIngress().addNewFrom().withNewNamespaceSelector().endNamespaceSelector().endFrom()
                .addNewFrom().withNewIpBlock().withCidr("10.0.0.0/8").endIpBlock().endFrom().endIngress()
                .endSpec().build();
        var k = KnownPolicies.known(np);
        assertEquals(new CalicoPrefixResolver.KnownPolicy("knp", "default", "allow-frontend", "default", 3, 0), k);
    }
}
