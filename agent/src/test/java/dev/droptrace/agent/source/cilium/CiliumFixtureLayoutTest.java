package dev.droptrace.agent.source.cilium;

import dev.droptrace.btf.Btf;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** CiliumFixture's offsets of struct cilium_fixture_config must equal the BTF of the compiled fixture. */
class CiliumFixtureLayoutTest {
    @Test
    void everyConfigOffsetMatchesTheFixturesBtf() throws Exception {
        Assumptions.assumeTrue(CiliumFixture.built(), CiliumFixture.RESOURCE + " not built");
        byte[] elf;
        try (InputStream in = CiliumFixture.class.getResourceAsStream(CiliumFixture.RESOURCE)) {
            elf = in.readAllBytes();
        }
        var layout = Btf.fromElf(elf).struct("cilium_fixture_config")
                .orElseThrow(() -> new AssertionError("cilium_fixture_config not in the fixture's BTF"));
        assertEquals(layout.size(), CiliumFixture.CFG_SIZE, "sizeof(struct cilium_fixture_config)");
        Set<String> checked = new HashSet<>();
        for (Field f : CiliumFixture.class.getDeclaredFields()) {
            if (!Modifier.isStatic(f.getModifiers()) || f.getType() != int.class || !f.getName().startsWith("CFG_")
                    || f.getName().equals("CFG_SIZE")) {
                continue;
            }
            String member = f.getName().substring(4).toLowerCase(Locale.ROOT);
            var m = layout.member(member);
            assertNotNull(m, "struct cilium_fixture_config has a member " + member);
            assertEquals(m.byteOffset(), f.getInt(null), "offset of " + member);
            checked.add(member);
        }
        for (var m : layout.members()) {
            if (!m.name().startsWith("pad")) {
                assertTrue(checked.contains(m.name()), "Java mirrors member " + m.name());
            }
        }
    }
}
