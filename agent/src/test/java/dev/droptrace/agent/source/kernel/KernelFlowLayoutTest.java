package dev.droptrace.agent.source.kernel;

import dev.droptrace.btf.Btf;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** The offsets KernelFlowTables uses for struct flow_key and flow_value equal the object's BTF. */
class KernelFlowLayoutTest {
    @Test
    void flowKeyAndValueMatchTheObjectsBtf() throws Exception {
        Btf btf = Btf.fromElf(KernelDropSource.loadObject());
        var key = btf.struct("flow_key").orElseThrow(() -> new AssertionError("flow_key not in the object's BTF"));
        var value = btf.struct("flow_value").orElseThrow(() -> new AssertionError("flow_value not in the object's BTF"));
        assertEquals(KernelFlowTables.KEY_SIZE, key.size(), "sizeof(struct flow_key)");
        assertEquals(KernelFlowTables.VALUE_SIZE, value.size(), "sizeof(struct flow_value)");
        assertEquals(KernelFlowTables.VALUE_COUNT, value.member("count").byteOffset());
        assertEquals(8, value.member("count").size());
        assertEquals(KernelFlowTables.VALUE_LAST_KTIME_NS, value.member("last_ktime_ns").byteOffset());
        assertEquals(KernelFlowTables.VALUE_FIRST, value.member("first").byteOffset());
        assertEquals(KernelDropRecord.SIZE, value.member("first").size(), "first is a whole struct drop_event");
    }
}
