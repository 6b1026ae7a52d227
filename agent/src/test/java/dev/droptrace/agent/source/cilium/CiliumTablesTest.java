package dev.droptrace.agent.source.cilium;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Cilium's drop reasons (spec 4.2) and reserved identities (spec 6.2). */
class CiliumTablesTest {
    @Test
    void dropReasons() {
        assertEquals("POLICY_DENIED", CiliumDropReasons.name(133));
        assertEquals("Policy denied", CiliumDropReasons.text(133));
        assertEquals("DROP_POLICY", CiliumDropReasons.bpfMacro(133));
        assertEquals("POLICY_DENY", CiliumDropReasons.name(181));
        assertEquals("Policy denied by denylist", CiliumDropReasons.text(181));
        assertEquals("AUTH_REQUIRED", CiliumDropReasons.name(189));
        assertEquals("FIB_LOOKUP_FAILED", CiliumDropReasons.name(169));
        assertEquals("CT_MISSING_TCP_ACK_FLAG", CiliumDropReasons.name(136), "stale proto name kept, as Hubble prints it");
        assertEquals("DROP_PUNT_PROXY", CiliumDropReasons.name(205));
        assertNull(CiliumDropReasons.name(159), "in BPF, not in drop.go or flow.proto");
        assertEquals("159", CiliumDropReasons.nameOrNumber(159));
        assertEquals("DROP_UNSUPP_SERVICE_PROTO", CiliumDropReasons.bpfMacro(159));
        assertEquals("No device", CiliumDropReasons.text(206));
        assertNull(CiliumDropReasons.name(0));
        assertEquals("Success", CiliumDropReasons.text(0));
        assertFalse(CiliumDropReasons.isKnown(1));
        assertFalse(CiliumDropReasons.isKnown(250));
        assertEquals("250", CiliumDropReasons.nameOrNumber(250));
        assertEquals("-1", CiliumDropReasons.nameOrNumber(-1));
        assertNull(CiliumDropReasons.name(1000));
        for (int c = 130; c <= 206; c++) {
            assertTrue(CiliumDropReasons.isKnown(c), "code " + c);
            if (c != 159 && c != 206) {
                assertTrue(CiliumDropReasons.name(c) != null, "code " + c);
            }
        }
        assertTrue(CiliumDropReasons.isPolicyDenial(181));
        assertFalse(CiliumDropReasons.isPolicyDenial(177));
    }

    @Test
    void reservedIdentities() {
        String[] names = {"unknown", "host", "world", "unmanaged", "health", "init", "remote-node", "kube-apiserver",
            "ingress", "world-ipv4", "world-ipv6"};
        for (int i = 0; i < names.length; i++) {
            assertEquals(names[i], ReservedIdentities.name(i));
            assertTrue(ReservedIdentities.isReserved(i));
        }
        assertNull(ReservedIdentities.name(11));
        assertNull(ReservedIdentities.name(256));
        assertNull(ReservedIdentities.name(-1));
        assertEquals(ReservedIdentities.SCOPE_LOCAL, ReservedIdentities.scope(16777217L));
        assertTrue(ReservedIdentities.isNodeLocal(16777217L));
        assertTrue(ReservedIdentities.isNodeLocal(0x02000001L));
        assertFalse(ReservedIdentities.isNodeLocal(51234));
        assertEquals(0xff, ReservedIdentities.scope(0xff000000L));
    }
}
