package dev.droptrace.agent.identity;

import dev.droptrace.agent.event.DropSource;
import dev.droptrace.agent.event.DropView;
import dev.droptrace.agent.event.EndpointIdentity;
import dev.droptrace.agent.output.JsonFormatter;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Identity text round-trips through the journal's dictionary form and reaches the JSON output. */
class IdentityJsonTest {
    @Test
    void dictionaryTextRoundTrips() {
        for (Identity i : new Identity[] {
                Identity.pod("shop", "web-1", "Deployment/web", Map.of("b", "2", "a", "1"), "n1"),
                Identity.service("shop", "api"), Identity.host("n1"), Identity.WORLD}) {
            EndpointIdentity parsed = DropView.parseIdentity(i.json());
            assertEquals(i.toEndpointIdentity(), parsed, i.json());
        }
        assertEquals("{\"namespace\":\"shop\",\"service\":\"api\"}", Identity.service("shop", "api").json());
        assertEquals("{\"namespace\":\"shop\",\"pod\":\"web-1\",\"labels\":{\"a\":\"1\",\"b\":\"2\"}}",
                Identity.pod("shop", "web-1", null, Map.of("b", "2", "a", "1"), null).json(), "labels sorted");
    }

    @Test
    void jsonOutputCarriesServiceAndReservedInsideSrcAndDst() {
        DropView v = new DropView();
        v.record().source(DropSource.KERNEL).family(4);
        v.srcIdentityJson(Identity.host("n1").json());
        v.dstIdentityJson(Identity.service("shop", "api").json());
        String line = new JsonFormatter().format(v);
        assertTrue(line.contains("\"src\":{\"node\":\"n1\",\"reserved\":\"host\"}"), line);
        assertTrue(line.contains("\"dst\":{\"namespace\":\"shop\",\"service\":\"api\"}"), line);
        v.srcIdentityJson(Identity.WORLD.json());
        assertTrue(new JsonFormatter().format(v).contains("\"src\":{\"reserved\":\"world\"}"));
    }
}
