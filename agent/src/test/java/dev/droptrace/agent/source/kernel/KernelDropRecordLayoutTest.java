package dev.droptrace.agent.source.kernel;

import dev.droptrace.btf.Btf;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/** The Java offsets of struct drop_event must equal the BTF of the compiled BPF object, field by field. */
class KernelDropRecordLayoutTest {
    @Test
    void everyOffsetMatchesTheObjectsBtf() throws Exception {
        Btf btf = Btf.fromElf(KernelDropSource.loadObject());
        var layout = btf.struct("drop_event").orElseThrow(() -> new AssertionError("drop_event not in the object's BTF"));
        assertEquals(layout.size(), KernelDropRecord.SIZE, "sizeof(struct drop_event)");
        Set<String> checked = new HashSet<>();
        for (Field f : KernelDropRecord.class.getDeclaredFields()) {
            if (!Modifier.isStatic(f.getModifiers()) || f.getType() != int.class) continue;
            String name = f.getName();
            if (name.equals("SIZE")) continue;
            if (name.equals("IFNAME_SIZE")) {
                assertEquals(layout.member("ifname").size(), f.getInt(null), "ifname size");
                continue;
            }
            String member = name.toLowerCase(Locale.ROOT);
            var m = layout.member(member);
            assertNotNull(m, "struct drop_event has a member " + member);
            assertEquals(m.byteOffset(), f.getInt(null), "offset of " + member);
            checked.add(member);
        }
        for (var m : layout.members()) {
            if (!m.name().startsWith("pad")) assertTrue(checked.contains(m.name()), "Java mirrors member " + m.name());
        }
    }
}
