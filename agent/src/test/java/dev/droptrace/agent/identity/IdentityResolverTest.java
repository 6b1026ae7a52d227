package dev.droptrace.agent.identity;

import dev.droptrace.agent.event.DropRecord;
import dev.droptrace.agent.event.Direction;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;

class IdentityResolverTest {
    /** Stands in for the journal's IDENTITY dictionary: ids from 1 by first sight of the text. */
    static final class FakeDictionary {
        final Map<String, Integer> ids = new HashMap<>();
        final List<String> texts = new ArrayList<>();

        int intern(String text) {
            return ids.computeIfAbsent(text, t -> {
                texts.add(t);
                return texts.size();
            });
        }

        String text(int id) {
            return id == 0 ? null : texts.get(id - 1);
        }
    }

    @Test
    void enrichesBothEndsAndOldDropsKeepOldNames() throws Exception {
        try (IdentityCache cache = IdentityCache.create(); Arena arena = Arena.ofConfined()) {
            FakeDictionary dict = new FakeDictionary();
            IdentityResolver resolver = new IdentityResolver(cache, dict::intern);
            cache.upsert("pod:a", Identity.pod("front", "web-1", "Deployment/web", Map.of("app", "web"), "n1"),
                    List.of("10.0.0.1"), 1);
            cache.upsert("pod:b", Identity.pod("back", "api-1", null, Map.of("app", "api"), "n1"),
                    List.of("fd00::2"), new long[] {555}, 1);
            cache.setComplete(true);
            cache.flush().get(10, TimeUnit.SECONDS);

            DropRecord r = new DropRecord().wrap(arena.allocate(DropRecord.SIZE), 0).clear();
            r.family(DropRecord.FAMILY_IPV4).srcIpv4(IdentityCache.ipv4("10.0.0.1")).dstIpv4(IdentityCache.ipv4("8.8.8.8"));
            resolver.enrich(r);
            assertEquals("web-1", DropViewText.pod(dict.text(r.srcIdentityId())));
            assertEquals("{\"reserved\":\"world\"}", dict.text(r.dstIdentityId()));
            int webJournalId = r.srcIdentityId();

            r.clear().family(DropRecord.FAMILY_IPV6).srcIp(InetAddress.ofLiteral("fd00::9").getAddress())
                    .dstIp(InetAddress.ofLiteral("fd00::2").getAddress());
            resolver.enrich(r);
            assertEquals("api-1", DropViewText.pod(dict.text(r.dstIdentityId())));

            // unknown local address on egress: the netns names the source
            r.clear().family(DropRecord.FAMILY_IPV4).direction(Direction.EGRESS).netns(555)
                    .srcIpv4(IdentityCache.ipv4("10.9.9.9")).dstIpv4(IdentityCache.ipv4("10.0.0.1"));
            resolver.enrich(r);
            assertEquals("api-1", DropViewText.pod(dict.text(r.srcIdentityId())));

            // IP reuse: a new pod at 10.0.0.1 gets a new journal id; the old one still says web-1
            cache.remove("pod:a");
            cache.upsert("pod:c", Identity.pod("front", "web-2", "Deployment/web", Map.of("app", "web"), "n1"),
                    List.of("10.0.0.1"), 2);
            cache.flush().get(10, TimeUnit.SECONDS);
            assertEquals(webJournalId, resolver.journalIdFor(findLocalIdOf(cache, "web-1")));
            int newId = resolver.ipv4(IdentityCache.ipv4("10.0.0.1"));
            assertEquals("web-2", DropViewText.pod(dict.text(newId)));
            assertEquals("web-1", DropViewText.pod(dict.text(webJournalId)));
            assertEquals(0, resolver.journalIdFor(0));
        }
    }

    private static int findLocalIdOf(IdentityCache cache, String pod) {
        for (int i = 1; i < 100; i++) {
            Identity id = cache.identity(i);
            if (id != null && pod.equals(id.pod())) {
                return i;
            }
        }
        return 0;
    }

    /** Reads the pod name back from IDENTITY text, as observe does. */
    static final class DropViewText {
        static String pod(String json) {
            return dev.droptrace.agent.event.DropView.parseIdentity(json).pod();
        }
    }
}
