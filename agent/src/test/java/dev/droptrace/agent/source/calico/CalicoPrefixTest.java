package dev.droptrace.agent.source.calico;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.droptrace.agent.event.Direction;
import dev.droptrace.agent.event.PolicyRef;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class CalicoPrefixTest {

    // ---- §3.5 hashing vectors ----------------------------------------------------------------

    @Test
    void hashVectorExactly63CharactersIsHashed() {
        String raw = "DPI88|" + "012345678901234567890123456789012345678901234567890123456";
        assertEquals(63, raw.length());
        assertEquals("DPI88|0123_S7GBfc7R7_4bzrXpbzglqoJrRG_UxIP0CuYjRWshz_7890123456", CalicoPrefix.hash(raw));
    }

    @Test
    void hashVectorLongPrefix() {
        String raw = "DPE1|quite-a-long-namespace/quite-a-long-tier-name.quite-a-long-policy-name";
        String h = CalicoPrefix.hash(raw);
        assertEquals("DPE1|quite_nnW4FYptgISH4G3jdI6KJWVcEx19s0BDp2On0wVAY_olicy-name", h);
        assertEquals(63, h.length());
        assertTrue(CalicoPrefix.isHashed(h));
    }

    @Test
    void shortPrefixIsNotHashed() {
        String raw = "API0|knp/default/allow-web";
        assertSame(raw, CalicoPrefix.hash(raw));
        String raw62 = "API0|" + "x".repeat(57);
        assertEquals(62, raw62.length());
        assertEquals(raw62, CalicoPrefix.hash(raw62));
    }

    @Test
    void chainNameVectors() {
        assertEquals("cali-pi-_FJ7pway3mX3ogPCfFDC", CalicoPrefix.chainName("cali-pi-", "knp/default/allow-frontend", 28));
        assertEquals("cali-pi-knp/default/deny-all", CalicoPrefix.chainName("cali-pi-", "knp/default/deny-all", 28));
        assertEquals("cali-pi-_SoIZJiPTXLJST8LHsob",
                CalicoPrefix.chainName("cali-pi-", "default/default/knp.default.allow-frontend", 28));
    }

    // ---- §3.3/§3.4 rule hits, v3.32 ids -------------------------------------------------------

    @Test
    void v332KubernetesPolicyAllow() {
        CalicoPrefix p = CalicoPrefix.parse("API0|knp/default/allow-web");
        assertEquals(CalicoPrefix.Type.RULE, p.type());
        assertEquals(CalicoPrefix.IdFormat.V3_32, p.format());
        assertEquals(new PolicyRef("allow-web", "default", "knp", "default", "allow"), p.policy());
        assertEquals(Direction.INGRESS, p.direction());
        assertEquals(0, p.ruleIndex());
        assertEquals("API0|knp/default/allow-web", p.raw());
        assertFalse(p.hashed());
    }

    @Test
    void v332CalicoPolicies() {
        assertEquals(new PolicyRef("allow-web", "prod", "np", null, "allow"),
                CalicoPrefix.parse("API0|np/prod/allow-web").policy());
        assertEquals(new PolicyRef("security.allow-web", "prod", "np", null, "allow"),
                CalicoPrefix.parse("API0|np/prod/security.allow-web").policy());
        CalicoPrefix gnp = CalicoPrefix.parse("DPI0|gnp/deny-ssh");
        assertEquals(new PolicyRef("deny-ssh", null, "gnp", null, "deny"), gnp.policy());
        assertEquals(CalicoPrefix.IdFormat.V3_32, gnp.format());
        assertEquals(new PolicyRef("admin-x", null, "kcnp", null, "deny"), CalicoPrefix.parse("DPI0|kcnp/admin-x").policy());
    }

    @Test
    void passAndEgressAndLargeIndex() {
        CalicoPrefix p = CalicoPrefix.parse("PPE12|np/ns1/tier1.p");
        assertEquals("pass", p.policy().action());
        assertEquals(Direction.EGRESS, p.direction());
        assertEquals(12, p.ruleIndex());
    }

    // ---- v3.30-v3.31 ids ---------------------------------------------------------------------

    @Test
    void v330KubernetesPolicy() {
        CalicoPrefix p = CalicoPrefix.parse("API0|default/knp.default.allow-web");
        assertEquals(CalicoPrefix.IdFormat.V3_30, p.format());
        assertEquals(new PolicyRef("allow-web", "default", "knp", "default", "allow"), p.policy());
        assertEquals(new PolicyRef("allow-frontend", "default", "knp", "default", "allow"),
                CalicoPrefix.parse("API0|default/knp.default.allow-frontend").policy());
    }

    @Test
    void v330CalicoPolicies() {
        CalicoPrefix np = CalicoPrefix.parse("DPE1|prod/default.deny-db");
        assertEquals(new PolicyRef("deny-db", "prod", "np", "default", "deny"), np.policy());
        assertEquals(Direction.EGRESS, np.direction());
        assertEquals(1, np.ruleIndex());
        CalicoPrefix gnp = CalicoPrefix.parse("DPI0|security.deny-ssh");
        assertEquals(new PolicyRef("security.deny-ssh", null, "gnp", "security", "deny"), gnp.policy());
        assertEquals(CalicoPrefix.IdFormat.V3_30, gnp.format());
    }

    @Test
    void v330OtherKinds() {
        assertEquals(new PolicyRef("a", null, "kanp", "adminnetworkpolicy", "deny"),
                CalicoPrefix.parse("DPI0|kanp.adminnetworkpolicy.a").policy());
        assertEquals(new PolicyRef("b", null, "kbanp", "baselineadminnetworkpolicy", "allow"),
                CalicoPrefix.parse("API3|kbanp.baselineadminnetworkpolicy.b").policy());
        assertEquals(new PolicyRef("sg-1", null, "ossg", "default", "allow"),
                CalicoPrefix.parse("API0|ossg.default.sg-1").policy());
        assertEquals(new PolicyRef("x", "ns", "snp", "default", "deny"),
                CalicoPrefix.parse("DPI0|ns/staged:default.x").policy());
    }

    @Test
    void idBuildersRoundTrip() {
        assertEquals("knp/default/allow-web", CalicoPrefix.idV332("knp", "default", "allow-web"));
        assertEquals("gnp/deny-ssh", CalicoPrefix.idV332("gnp", null, "deny-ssh"));
        assertEquals("default/knp.default.allow-web", CalicoPrefix.idV330("knp", "default", "allow-web", "default"));
        assertEquals("prod/default.deny-db", CalicoPrefix.idV330("np", "prod", "deny-db", "default"));
        assertEquals("security.deny-ssh", CalicoPrefix.idV330("gnp", null, "deny-ssh", "security"));
        assertEquals("security.deny-ssh", CalicoPrefix.idV330("gnp", null, "security.deny-ssh", "security"));
        assertEquals("DPE1|prod/default.deny-db",
                CalicoPrefix.ruleHit('D', 'P', Direction.EGRESS, 1, CalicoPrefix.idV330("np", "prod", "deny-db", "default")));
    }

    // ---- profiles, end of tier, end of profiles ----------------------------------------------

    @Test
    void profileRules() {
        CalicoPrefix p = CalicoPrefix.parse("ARI0|kns.default");
        assertEquals(CalicoPrefix.Type.RULE, p.type());
        assertEquals(new PolicyRef("kns.default", "default", "profile", "__PROFILE__", "allow"), p.policy());
        assertEquals(new PolicyRef("kns.kube-system", "kube-system", "profile", "__PROFILE__", "allow"),
                CalicoPrefix.parse("ARI0|kns.kube-system").policy());
        CalicoPrefix e = CalicoPrefix.parse("ARE0|kns.default");
        assertEquals(Direction.EGRESS, e.direction());
        assertEquals("ns1", CalicoPrefix.parse("ARE0|ksa.ns1.sa1").policy().namespace());
        CalicoPrefix pass = CalicoPrefix.parse("PRE999|short.profile.name");
        assertEquals("pass", pass.policy().action());
        assertEquals(999, pass.ruleIndex());
        assertEquals("short.profile.name", pass.policy().name());
    }

    @Test
    void endOfTier() {
        CalicoPrefix deny = CalicoPrefix.parse("DPI|default");
        assertEquals(CalicoPrefix.Type.TIER_END, deny.type());
        assertEquals(new PolicyRef(null, null, null, "default", "deny"), deny.policy());
        assertEquals(Direction.INGRESS, deny.direction());
        assertEquals(-1, deny.ruleIndex());
        CalicoPrefix pass = CalicoPrefix.parse("PPE|security");
        assertEquals(CalicoPrefix.Type.TIER_END, pass.type());
        assertEquals("pass", pass.policy().action());
        assertEquals(Direction.EGRESS, pass.direction());
        assertEquals(CalicoPrefix.Type.TIER_END, CalicoPrefix.parse("DPE|default").type());
    }

    @Test
    void endOfProfiles() {
        for (String s : new String[] {"DRI", "DRE"}) {
            CalicoPrefix p = CalicoPrefix.parse(s);
            assertEquals(CalicoPrefix.Type.PROFILE_END, p.type());
            assertEquals("deny", p.policy().action());
            assertEquals("profile", p.policy().kind());
        }
        assertEquals(Direction.EGRESS, CalicoPrefix.parse("DRE").direction());
    }

    @Test
    void offGrammarIsUnknown() {
        for (String s : new String[] {"", "D", "DR", "XPI0|a", "AXI0|a", "APX0|a", "API0", "API0|", "API|x",
                "ARI|x", "DRI|x", "API0x|y", "API12345678901|x", "ARI", "PRI", "calico-packet"}) {
            CalicoPrefix p = CalicoPrefix.parse(s);
            assertEquals(CalicoPrefix.Type.UNKNOWN, p.type(), s);
            assertNull(p.policy(), s);
            assertEquals(s, p.raw());
        }
    }

    @Test
    void bytesStopAtNul() {
        byte[] b = "xxDPI|default\0garbage".getBytes(StandardCharsets.US_ASCII);
        CalicoPrefix p = CalicoPrefix.parse(b, 2, b.length - 2);
        assertEquals("DPI|default", p.raw());
        assertEquals(CalicoPrefix.Type.TIER_END, p.type());
    }

    // ---- hashed prefixes and the resolver ------------------------------------------------------

    @Test
    void hashedPrefixKeepsHeadFields() {
        CalicoPrefix p = CalicoPrefix.parse("DPI88|0123_S7GBfc7R7_4bzrXpbzglqoJrRG_UxIP0CuYjRWshz_7890123456");
        assertTrue(p.hashed());
        assertEquals(CalicoPrefix.Type.RULE, p.type());
        assertEquals(88, p.ruleIndex());
        assertEquals("deny", p.policy().action());
        assertEquals(Direction.INGRESS, p.direction());
        assertNull(p.policy().name());
        assertEquals(CalicoPrefix.IdFormat.UNKNOWN, p.format());
    }

    @Test
    void resolverMapsHashedPrefixesBackInBothFormats() {
        var policy = new CalicoPrefixResolver.KnownPolicy("np", "quite-a-long-namespace",
                "quite-a-long-policy-name", "quite-a-long-tier-name", 0, 2);
        var knp = new CalicoPrefixResolver.KnownPolicy("knp", "a-namespace-with-a-rather-long-name",
                "allow-from-the-frontend-pods-on-port-eighty", "default", 3, 0);
        var resolver = new CalicoPrefixResolver(List.of(policy, knp), List.of("default"));
        assertTrue(resolver.hashedCount() > 0);

        // the spec's second vector: a v3.30 id
        CalicoPrefix hashed = CalicoPrefix.parse("DPE1|quite_nnW4FYptgISH4G3jdI6KJWVcEx19s0BDp2On0wVAY_olicy-name");
        CalicoPrefix r = resolver.resolve(hashed);
        assertEquals("DPE1|quite_nnW4FYptgISH4G3jdI6KJWVcEx19s0BDp2On0wVAY_olicy-name", r.raw());
        assertTrue(r.hashed());
        assertEquals(CalicoPrefix.IdFormat.V3_30, r.format());
        assertEquals(new PolicyRef("quite-a-long-policy-name", "quite-a-long-namespace", "np", "quite-a-long-tier-name",
                "deny"), r.policy());
        assertEquals(1, r.ruleIndex());
        assertEquals(Direction.EGRESS, r.direction());

        // a v3.32 id of a Kubernetes policy, rule 2 allows
        String raw = "API2|knp/a-namespace-with-a-rather-long-name/allow-from-the-frontend-pods-on-port-eighty";
        CalicoPrefix r2 = resolver.resolve(CalicoPrefix.parse(CalicoPrefix.hash(raw)));
        assertEquals(CalicoPrefix.IdFormat.V3_32, r2.format());
        assertEquals(new PolicyRef("allow-from-the-frontend-pods-on-port-eighty", "a-namespace-with-a-rather-long-name",
                "knp", "default", "allow"), r2.policy());
        assertEquals(2, r2.ruleIndex());

        // unknown hash: returned as parsed
        CalicoPrefix other = CalicoPrefix.parse("DPI88|0123_S7GBfc7R7_4bzrXpbzglqoJrRG_UxIP0CuYjRWshz_7890123456");
        assertSame(other, resolver.resolve(other));
    }

    @Test
    void resolverFillsTierOfV332Ids() {
        var resolver = new CalicoPrefixResolver(
                List.of(new CalicoPrefixResolver.KnownPolicy("np", "prod", "security.allow-web", "security", 1, 0)),
                List.of());
        CalicoPrefix r = resolver.resolve(CalicoPrefix.parse("API0|np/prod/security.allow-web"));
        assertEquals("security", r.policy().tier());
        CalicoPrefix unknown = CalicoPrefix.parse("API0|np/prod/other");
        assertSame(unknown, resolver.resolve(unknown));
    }

    @Test
    void resolverResolvesHashedEndOfLongTier() {
        String tier = "a-tier-with-a-name-long-enough-to-push-the-prefix-past-sixty-three";
        var resolver = new CalicoPrefixResolver(List.of(), List.of(tier));
        CalicoPrefix r = resolver.resolve(CalicoPrefix.parse(CalicoPrefix.hash("DPI|" + tier)));
        assertEquals(CalicoPrefix.Type.TIER_END, r.type());
        assertEquals(tier, r.policy().tier());
        assertEquals("deny", r.policy().action());
    }

    // ---- §4 worked example ------------------------------------------------------------------

    @Test
    void workedExampleDefaultDenyPlusAllow() {
        CalicoPrefix denied = CalicoPrefix.parse("DPI|default");
        assertEquals(CalicoPrefix.Type.TIER_END, denied.type());
        assertEquals("default", denied.policy().tier());
        assertEquals("deny", denied.policy().action());
        assertTrue(denied.agreesWithGroup(1));
        assertFalse(denied.agreesWithGroup(2));

        PolicyRef allowFrontend = new PolicyRef("allow-frontend", "default", "knp", "default", "allow");
        CalicoPrefix v332 = CalicoPrefix.parse("API0|knp/default/allow-frontend");
        assertEquals(allowFrontend, v332.policy());
        assertEquals(0, v332.ruleIndex());
        assertTrue(v332.agreesWithGroup(1));
        CalicoPrefix v330 = CalicoPrefix.parse("API0|default/knp.default.allow-frontend");
        assertEquals(allowFrontend, v330.policy());
        assertEquals(CalicoPrefix.IdFormat.V3_30, v330.format());

        CalicoPrefix profile = CalicoPrefix.parse("ARE0|kns.default");
        assertTrue(profile.agreesWithGroup(2));
        assertEquals("profile", profile.policy().kind());

        CalicoPrefix end = CalicoPrefix.parse("DRI");
        assertEquals(CalicoPrefix.Type.PROFILE_END, end.type());
        assertTrue(end.agreesWithGroup(1));
    }

    @Test
    void any63CharacterPrefixIsTreatedAsHashed() {
        String s = "API0|np/" + "n".repeat(55);
        assertEquals(63, s.length());
        CalicoPrefix p = CalicoPrefix.parse(s);
        assertTrue(p.hashed());
        assertEquals(CalicoPrefix.IdFormat.UNKNOWN, p.format());
        assertEquals(0, p.ruleIndex());
    }
}
