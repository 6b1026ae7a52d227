package dev.droptrace.agent.source.cilium;

/**
 * Cilium's drop reasons, by the positive code carried in a drop notification's subtype byte or as
 * the negated {@code verdict} of a denying policy verdict (spec section 4).
 *
 * <p>The table is data taken from the spec's section 4.2 (itself read from Cilium's
 * {@code bpf/lib/drop_reasons.h}, {@code pkg/monitor/api/drop.go} and {@code flow.proto}); these are
 * Cilium's own reasons, not the kernel's {@code skb_drop_reason}. {@link #name} is the
 * {@code flow.proto} {@code DropReason} name that Hubble prints (for example 133 {@code POLICY_DENIED},
 * 181 {@code POLICY_DENY}, 189 {@code AUTH_REQUIRED}); codes below 130 are metrics reasons and have
 * no such name. Lookups are array reads and allocate nothing.
 */
public final class CiliumDropReasons {
    /** Codes of 130 and above are drop reasons; lower codes are forwarding/metrics reasons. */
    public static final int DROP_MIN = 130;
    /** Default deny: no allow rule matched. */
    public static final int POLICY_DENIED = 133;
    /** FIB lookup failed; {@code ext_error} carries the FIB lookup return code. */
    public static final int FIB_LOOKUP_FAILED = 169;
    /** An explicit deny rule matched. */
    public static final int POLICY_DENY = 181;
    /** Mutual authentication required but missing. */
    public static final int AUTH_REQUIRED = 189;

    private static final String[] MACROS = new String[256];
    private static final String[] NAMES = new String[256];
    private static final String[] TEXTS = new String[256];
    private static final String[] NUMBERS = new String[256];

    static {
        row(0, "REASON_FORWARDED", null, "Success");
        row(2, null, null, "Invalid packet");
        row(3, "REASON_PLAINTEXT", null, "Interface");
        row(4, "REASON_DECRYPT", null, "Interface Decrypted");
        row(5, "REASON_LB_NO_BACKEND_SLOT", null, "LB, sock cgroup: No backend slot entry found");
        row(6, "REASON_LB_NO_BACKEND", null, "LB, sock cgroup: No backend entry found");
        row(7, "REASON_LB_REVNAT_UPDATE", null, "LB, sock cgroup: Reverse entry update failed");
        row(8, "REASON_LB_REVNAT_STALE", null, "LB, sock cgroup: Reverse entry stale");
        row(9, "REASON_FRAG_PACKET", null, "Fragmented packet");
        row(10, "REASON_FRAG_PACKET_UPDATE", null, "Fragmented packet entry update failed");
        row(11, null, null, "Missed tail call to custom program");
        row(12, "REASON_DECRYPTING", null, "Interface Decrypting");
        row(13, "REASON_ENCRYPTING", null, "Interface Encrypting");
        row(14, "REASON_LB_REVNAT_DELETE", null, "LB: sock cgroup: Reverse entry delete succeeded");
        row(15, "REASON_MTU_ERROR_MSG", null, "MTU error message");
        row(130, "DROP_UNUSED1", "INVALID_SOURCE_MAC", "Invalid source mac");
        row(131, "DROP_UNUSED2", "INVALID_DESTINATION_MAC", "Invalid destination mac");
        row(132, "DROP_INVALID_SIP", "INVALID_SOURCE_IP", "Invalid source ip");
        row(133, "DROP_POLICY", "POLICY_DENIED", "Policy denied");
        row(134, "DROP_INVALID", "INVALID_PACKET_DROPPED", "Invalid packet");
        row(135, "DROP_CT_INVALID_HDR", "CT_TRUNCATED_OR_INVALID_HEADER", "CT: Truncated or invalid header");
        row(136, "DROP_FRAG_NEEDED", "CT_MISSING_TCP_ACK_FLAG", "Fragmentation needed");
        row(137, "DROP_CT_UNKNOWN_PROTO", "CT_UNKNOWN_L4_PROTOCOL", "CT: Unknown L4 protocol");
        row(138, "DROP_UNUSED4", "CT_CANNOT_CREATE_ENTRY_FROM_PACKET", "CT: Can't create entry from packet");
        row(139, "DROP_UNKNOWN_L3", "UNSUPPORTED_L3_PROTOCOL", "Unsupported L3 protocol");
        row(140, "DROP_MISSED_TAIL_CALL", "MISSED_TAIL_CALL", "Missed tail call");
        row(141, "DROP_WRITE_ERROR", "ERROR_WRITING_TO_PACKET", "Error writing to packet");
        row(142, "DROP_UNKNOWN_L4", "UNKNOWN_L4_PROTOCOL", "Unknown L4 protocol");
        row(143, "DROP_UNKNOWN_ICMP4_CODE", "UNKNOWN_ICMPV4_CODE", "Unknown ICMPv4 code");
        row(144, "DROP_UNKNOWN_ICMP4_TYPE", "UNKNOWN_ICMPV4_TYPE", "Unknown ICMPv4 type");
        row(145, "DROP_UNKNOWN_ICMP6_CODE", "UNKNOWN_ICMPV6_CODE", "Unknown ICMPv6 code");
        row(146, "DROP_UNKNOWN_ICMP6_TYPE", "UNKNOWN_ICMPV6_TYPE", "Unknown ICMPv6 type");
        row(147, "DROP_NO_TUNNEL_KEY", "ERROR_RETRIEVING_TUNNEL_KEY", "Error retrieving tunnel key");
        row(148, "DROP_UNUSED5", "ERROR_RETRIEVING_TUNNEL_OPTIONS", "Error retrieving tunnel options");
        row(149, "DROP_UNUSED6", "INVALID_GENEVE_OPTION", "Invalid Geneve option");
        row(150, "DROP_UNKNOWN_TARGET", "UNKNOWN_L3_TARGET_ADDRESS", "Unknown L3 target address");
        row(151, "DROP_UNROUTABLE", "STALE_OR_UNROUTABLE_IP", "Stale or unroutable IP");
        row(152, "DROP_UNUSED7", "NO_MATCHING_LOCAL_CONTAINER_FOUND", "No matching local container found");
        row(153, "DROP_CSUM_L3", "ERROR_WHILE_CORRECTING_L3_CHECKSUM", "Error while correcting L3 checksum");
        row(154, "DROP_CSUM_L4", "ERROR_WHILE_CORRECTING_L4_CHECKSUM", "Error while correcting L4 checksum");
        row(155, "DROP_CT_CREATE_FAILED", "CT_MAP_INSERTION_FAILED", "CT: Map insertion failed");
        row(156, "DROP_INVALID_EXTHDR", "INVALID_IPV6_EXTENSION_HEADER", "Invalid IPv6 extension header");
        row(157, "DROP_FRAG_NOSUPPORT", "IP_FRAGMENTATION_NOT_SUPPORTED", "IP fragmentation not supported");
        row(158, "DROP_NO_SERVICE", "SERVICE_BACKEND_NOT_FOUND", "Service backend not found");
        row(159, "DROP_UNSUPP_SERVICE_PROTO", null, null);
        row(160, "DROP_NO_TUNNEL_ENDPOINT", "NO_TUNNEL_OR_ENCAPSULATION_ENDPOINT", "No tunnel/encapsulation endpoint (datapath BUG!)");
        row(161, "DROP_NAT_46X64_DISABLED", "FAILED_TO_INSERT_INTO_PROXYMAP", "NAT 46/64 not enabled");
        row(162, "DROP_EDT_HORIZON", "REACHED_EDT_RATE_LIMITING_DROP_HORIZON", "Reached EDT rate-limiting drop horizon");
        row(163, "DROP_UNKNOWN_CT", "UNKNOWN_CONNECTION_TRACKING_STATE", "Unknown connection tracking state");
        row(164, "DROP_HOST_UNREACHABLE", "LOCAL_HOST_IS_UNREACHABLE", "Local host is unreachable");
        row(165, "DROP_NO_CONFIG", "NO_CONFIGURATION_AVAILABLE_TO_PERFORM_POLICY_DECISION", "No configuration available to perform policy decision");
        row(166, "DROP_UNSUPPORTED_L2", "UNSUPPORTED_L2_PROTOCOL", "Unsupported L2 protocol");
        row(167, "DROP_NAT_NO_MAPPING", "NO_MAPPING_FOR_NAT_MASQUERADE", "No mapping for NAT masquerade");
        row(168, "DROP_NAT_UNSUPP_PROTO", "UNSUPPORTED_PROTOCOL_FOR_NAT_MASQUERADE", "Unsupported protocol for NAT masquerade");
        row(169, "DROP_NO_FIB", "FIB_LOOKUP_FAILED", "FIB lookup failed");
        row(170, "DROP_ENCAP_PROHIBITED", "ENCAPSULATION_TRAFFIC_IS_PROHIBITED", "Encapsulation traffic is prohibited");
        row(171, "DROP_INVALID_IDENTITY", "INVALID_IDENTITY", "Invalid identity");
        row(172, "DROP_UNKNOWN_SENDER", "UNKNOWN_SENDER", "Unknown sender");
        row(173, "DROP_NAT_NOT_NEEDED", "NAT_NOT_NEEDED", "NAT not needed");
        row(174, "DROP_IS_CLUSTER_IP", "IS_A_CLUSTERIP", "Is a ClusterIP");
        row(175, "DROP_FRAG_NOT_FOUND", "FIRST_LOGICAL_DATAGRAM_FRAGMENT_NOT_FOUND", "First logical datagram fragment not found");
        row(176, "DROP_FORBIDDEN_ICMP6", "FORBIDDEN_ICMPV6_MESSAGE", "Forbidden ICMPv6 message");
        row(177, "DROP_NOT_IN_SRC_RANGE", "DENIED_BY_LB_SRC_RANGE_CHECK", "Denied by LB src range check");
        row(178, "DROP_PROXY_LOOKUP_FAILED", "SOCKET_LOOKUP_FAILED", "Socket lookup failed");
        row(179, "DROP_PROXY_SET_FAILED", "SOCKET_ASSIGN_FAILED", "Socket assign failed");
        row(180, "DROP_PROXY_UNKNOWN_PROTO", "PROXY_REDIRECTION_NOT_SUPPORTED_FOR_PROTOCOL", "Proxy redirection not supported for protocol");
        row(181, "DROP_POLICY_DENY", "POLICY_DENY", "Policy denied by denylist");
        row(182, "DROP_VLAN_FILTERED", "VLAN_FILTERED", "VLAN traffic disallowed by VLAN filter");
        row(183, "DROP_INVALID_VNI", "INVALID_VNI", "Incorrect VNI from VTEP");
        row(184, "DROP_INVALID_TC_BUFFER", "INVALID_TC_BUFFER", "Failed to update or lookup TC buffer");
        row(185, "DROP_NO_SID", "NO_SID", "No SID was found for the IP address");
        row(186, "DROP_UNUSED8", "MISSING_SRV6_STATE", "SRv6 state was removed during tail call");
        row(187, "DROP_NAT46", "NAT46", "L3 translation from IPv4 to IPv6 failed (NAT46)");
        row(188, "DROP_NAT64", "NAT64", "L3 translation from IPv6 to IPv4 failed (NAT64)");
        row(189, "DROP_POLICY_AUTH_REQUIRED", "AUTH_REQUIRED", "Authentication required");
        row(190, "DROP_CT_NO_MAP_FOUND", "CT_NO_MAP_FOUND", "No conntrack map found");
        row(191, "DROP_SNAT_NO_MAP_FOUND", "SNAT_NO_MAP_FOUND", "No nat map found");
        row(192, "DROP_INVALID_CLUSTER_ID", "INVALID_CLUSTER_ID", "Invalid ClusterID");
        row(193, "DROP_DSR_ENCAP_UNSUPP_PROTO", "UNSUPPORTED_PROTOCOL_FOR_DSR_ENCAP", "Unsupported packet protocol for DSR encapsulation");
        row(194, "DROP_NO_EGRESS_GATEWAY", "NO_EGRESS_GATEWAY", "No egress gateway found");
        row(195, "DROP_UNENCRYPTED_TRAFFIC", "UNENCRYPTED_TRAFFIC", "Traffic is unencrypted");
        row(196, "DROP_TTL_EXCEEDED", "TTL_EXCEEDED", "TTL exceeded");
        row(197, "DROP_NO_NODE_ID", "NO_NODE_ID", "No node ID found");
        row(198, "DROP_RATE_LIMITED", "DROP_RATE_LIMITED", "Rate limited");
        row(199, "DROP_IGMP_HANDLED", "IGMP_HANDLED", "IGMP handled");
        row(200, "DROP_IGMP_SUBSCRIBED", "IGMP_SUBSCRIBED", "IGMP subscribed");
        row(201, "DROP_MULTICAST_HANDLED", "MULTICAST_HANDLED", "Multicast handled");
        row(202, "DROP_HOST_NOT_READY", "DROP_HOST_NOT_READY", "Host datapath not ready");
        row(203, "DROP_EP_NOT_READY", "DROP_EP_NOT_READY", "Endpoint policy program not available");
        row(204, "DROP_NO_EGRESS_IP", "DROP_NO_EGRESS_IP", "No Egress IP configured");
        row(205, "DROP_PUNT_PROXY", "DROP_PUNT_PROXY", "Punt to proxy");
        row(206, "DROP_NO_DEVICE", null, "No device");
        for (int i = 0; i < 256; i++) {
            NUMBERS[i] = Integer.toString(i);
        }
    }

    private CiliumDropReasons() {
    }

    private static void row(int code, String macro, String name, String text) {
        MACROS[code] = macro;
        NAMES[code] = name;
        TEXTS[code] = text;
    }

    private static boolean inRange(int code) {
        return code >= 0 && code < 256;
    }

    /** The {@code flow.proto} name (Hubble's {@code drop_reason_desc}), or null if Cilium has none. */
    public static String name(int code) {
        return inRange(code) ? NAMES[code] : null;
    }

    /** {@link #name}, or the decimal code when there is no name (as Hubble's JSON prints it). */
    public static String nameOrNumber(int code) {
        String n = name(code);
        if (n != null) {
            return n;
        }
        return inRange(code) ? NUMBERS[code] : Integer.toString(code);
    }

    /** The BPF macro on Cilium's main branch ({@code DROP_POLICY} for 133), or null if none. */
    public static String bpfMacro(int code) {
        return inRange(code) ? MACROS[code] : null;
    }

    /** The text {@code cilium monitor} prints ("Policy denied"), or null if Cilium has none. */
    public static String text(int code) {
        return inRange(code) ? TEXTS[code] : null;
    }

    /** True if the code is in Cilium's table at all (a drop or a metrics reason). */
    public static boolean isKnown(int code) {
        return inRange(code) && (MACROS[code] != null || NAMES[code] != null || TEXTS[code] != null);
    }

    /** True for the policy-denied codes 133, 181 and 189. */
    public static boolean isPolicyDenial(int code) {
        return code == POLICY_DENIED || code == POLICY_DENY || code == AUTH_REQUIRED;
    }
}
