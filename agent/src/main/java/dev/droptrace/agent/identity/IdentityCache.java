package dev.droptrace.agent.identity;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * IP address and network-namespace inode to {@link Identity}, for source threads.
 *
 * <h2>Readers</h2>
 * {@link #lookupIpv4}, {@link #lookupIpv6}, {@link #lookupNetns}, {@link #resolveIpv4},
 * {@link #resolveIpv6} and {@link #identity} never lock, never wait and allocate nothing: they read
 * one volatile snapshot of immutable primitive open-addressing tables and probe it. They return a
 * <em>local id</em>: every distinct version of an identity (a pod, a pod after its labels changed,
 * the next pod to get the same IP) gets a fresh id that is never reused, and {@link #identity(int)}
 * keeps answering for it after the pod is gone (for {@link #DEFAULT_RETIRE_AFTER}), so a source
 * thread that resolved an id a moment ago still gets the old name. 0 ({@link #UNKNOWN}) means "not
 * known"; {@link #WORLD} is the reserved {@code world} identity.
 *
 * <h2>Reserved identities</h2>
 * Node addresses (from Node objects) map to a {@code host} identity naming the node, like any other
 * address, so {@code lookup*} returns them. {@code world} is not stored: {@code lookup*} returns 0
 * for an unknown address and {@code resolve*} turns that 0 into {@link #WORLD}, but only once the
 * cache is {@linkplain #complete() complete} (the Kubernetes informers have synced, or an inventory
 * was loaded); before that, with the API server unreachable, an unknown address is unknown, not
 * "outside the cluster". Loopback and unspecified addresses are never {@code world}.
 *
 * <h2>Writer</h2>
 * All updates ({@link #upsert}, {@link #remove}, {@link #registerNetns}, ...) are queued and applied
 * in submission order by one writer thread (called on the writer thread itself, as sources do from
 * their handlers, they apply at once), which drains whatever is queued (a burst of thousands
 * of pod changes becomes a few batches, at most one snapshot per 5 ms), then publishes copies of
 * the table shards it changed ({@link AddressIndex}) with one volatile write. Each address is
 * <em>claimed</em> by every owner (a pod, a Service, a Node, an inventory entry) that lists it; the winner is the owner with the newest creation time (then the
 * latest to appear). So when pod B reuses the IP of deleted pod A, the address maps to B after both
 * events whatever order they arrive in (informers may deliver B's add before A's delete), and A's
 * delete only withdraws A's claim, never B's mapping. Pods that have finished (Succeeded/Failed)
 * claim no address.
 *
 * <h2>Lifetime</h2>
 * {@link #create()} starts the writer with no sources; {@link #start(String, Path, Path)} also loads
 * an inventory and/or starts the Kubernetes informers; {@link #close()} stops sources and writer.
 */
public final class IdentityCache implements AutoCloseable {
    /** Not known. */
    public static final int UNKNOWN = 0;
    /** The local id of {@link Identity#WORLD}. */
    public static final int WORLD = 1;
    /** How long the identity of a removed owner still answers {@link #identity(int)}. */
    public static final Duration DEFAULT_RETIRE_AFTER = Duration.ofMinutes(10);

    private static final Logger LOG = LoggerFactory.getLogger(IdentityCache.class);
    private static final int CHUNK_BITS = 12;
    private static final int CHUNK = 1 << CHUNK_BITS;
    private static final int MAX_BATCH = 20_000;
    /** At most one snapshot per this many ns under continuous updates (a flush publishes at once). */
    private static final long MIN_PUBLISH_INTERVAL_NS = 5_000_000L;
    private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(Identity[].class);
    private static final ValueLayout.OfLong BE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final long V4_MAPPED = 0xffffL << 32;
    /** {@link Key#kind()} of an IPv4 address. */
    public static final int KIND_V4 = 4;
    /** {@link Key#kind()} of an IPv6 address. */
    public static final int KIND_V6 = 6;
    static final int KIND_NETNS = 1;

    /** What readers see; never mutated after publication (identity slots aside, see {@link #SLOT}). */
    private record Snapshot(AddressIndex.View v4, AddressIndex.View v6, AddressIndex.View netns, Identity[][] chunks,
                            boolean complete) {
    }

    private volatile Snapshot snapshot;

    // ---- writer-thread state ----
    private final LinkedBlockingQueue<Runnable> tasks = new LinkedBlockingQueue<>();
    private final Map<String, Owner> owners = new HashMap<>();
    private final Map<Key, List<Owner>> claims = new HashMap<>();
    private final Map<String, Set<Owner>> ownersByPodRef = new HashMap<>();
    private final Map<String, Set<Long>> netnsByPodRef = new HashMap<>();
    private final Map<Long, String> podRefByNetns = new HashMap<>();
    private final AddressIndex v4 = new AddressIndex(10);
    private final AddressIndex v6 = new AddressIndex(10);
    private final AddressIndex netns = new AddressIndex(6);
    private final ArrayDeque<Retired> retired = new ArrayDeque<>();
    private final List<CompletableFuture<Void>> flushes = new ArrayList<>();
    private Identity[][] chunks = new Identity[1][];
    private int nextLocalId = WORLD + 1;
    private long nextSeq;
    private boolean complete;
    private boolean v4Dirty;
    private boolean v6Dirty;
    private boolean netnsDirty;
    private boolean metaDirty;
    private long lastPublishNanos;

    private final long retireAfterNanos;
    private final Thread writer;
    private final List<AutoCloseable> attached = new CopyOnWriteArrayList<>();
    private final AtomicLong updatesApplied = new AtomicLong();
    private final AtomicLong updatesFailed = new AtomicLong();
    private final AtomicLong snapshotsPublished = new AtomicLong();
    private volatile boolean closed;

    private IdentityCache(Duration retireAfter) {
        this.retireAfterNanos = retireAfter.toNanos();
        chunks[0] = new Identity[CHUNK];
        SLOT.setRelease(chunks[0], WORLD, Identity.WORLD);
        snapshot = new Snapshot(v4.publish(), v6.publish(), netns.publish(), chunks, false);
        writer = Thread.ofPlatform().name("identity-writer").daemon(true).unstarted(this::runWriter);
        writer.start();
    }

    /** A cache with its writer running and no sources. */
    public static IdentityCache create() {
        return new IdentityCache(DEFAULT_RETIRE_AFTER);
    }

    /** A cache whose removed identities stop answering {@link #identity(int)} after {@code retireAfter}. */
    public static IdentityCache create(Duration retireAfter) {
        return new IdentityCache(retireAfter);
    }

    /**
     * The agent's entry point: a cache fed by an inventory file and/or the Kubernetes API, returning
     * at once (informers sync in the background, retrying while the API server is unreachable).
     * Kubernetes is used when {@code kubeconfig} is given, or when no inventory is given and the
     * process runs in a pod ({@code KUBERNETES_SERVICE_HOST} set: in-cluster service account).
     * When {@code node} is given and {@code /proc/1/ns/net} can be read, the host network namespace
     * maps to {@code host} with that node name.
     *
     * @throws InventoryException when the inventory file is unreadable or invalid
     */
    public static IdentityCache start(String node, Path kubeconfig, Path inventory) {
        IdentityCache cache = create();
        try {
            if (node != null) {
                long hostNetns = NetnsInode.of(Path.of("/proc/1/ns/net"));
                if (hostNetns != 0) {
                    cache.registerHostNetns(hostNetns, node);
                }
            }
            if (inventory != null) {
                InventoryFile.load(inventory).applyTo(cache);
            }
            if (kubeconfig != null || (inventory == null && System.getenv("KUBERNETES_SERVICE_HOST") != null)) {
                KubernetesIdentitySource.start(cache, KubernetesIdentitySource.client(kubeconfig), node, true);
            }
            return cache;
        } catch (RuntimeException e) {
            cache.close();
            throw e;
        }
    }

    // =====================================================================================
    // Readers: lock-free, allocation-free
    // =====================================================================================

    /** The local id for an IPv4 address given as a host-order int (0x0a000001 = 10.0.0.1); 0 when unknown. */
    public int lookupIpv4(int address) {
        return snapshot.v4.get(0, address & 0xffffffffL);
    }

    /** The local id for an IPv6 address as two big-endian halves; IPv4-mapped addresses use the IPv4 table. */
    public int lookupIpv6(long hi, long lo) {
        if (hi == 0 && (lo & 0xffffffff00000000L) == V4_MAPPED) {
            return snapshot.v4.get(0, lo & 0xffffffffL);
        }
        return snapshot.v6.get(hi, lo);
    }

    /** The local id for the 16 network-order bytes at {@code segment[offset..offset+16)}. */
    public int lookupIpv6(MemorySegment segment, long offset) {
        return lookupIpv6(segment.get(BE_LONG, offset), segment.get(BE_LONG, offset + 8));
    }

    /** The local id for a network namespace inode; 0 when unknown (never {@code world}). */
    public int lookupNetns(long inode) {
        return inode == 0 ? 0 : snapshot.netns.get(0, inode);
    }

    /** Like {@link #lookupIpv4}, but an unknown address is {@link #WORLD} once the cache is complete. */
    public int resolveIpv4(int address) {
        Snapshot s = snapshot;
        int id = s.v4.get(0, address & 0xffffffffL);
        if (id != 0 || !s.complete || address == 0 || (address >>> 24) == 127) {
            return id;
        }
        return WORLD;
    }

    /** Like {@link #lookupIpv6(long, long)}, but an unknown address is {@link #WORLD} once the cache is complete. */
    public int resolveIpv6(long hi, long lo) {
        if (hi == 0 && (lo & 0xffffffff00000000L) == V4_MAPPED) {
            return resolveIpv4((int) lo);
        }
        Snapshot s = snapshot;
        int id = s.v6.get(hi, lo);
        if (id != 0 || !s.complete || (hi == 0 && (lo == 0 || lo == 1))) {
            return id;
        }
        return WORLD;
    }

    /** Like {@link #lookupIpv6(MemorySegment, long)} with {@link #resolveIpv6(long, long)}'s world rule. */
    public int resolveIpv6(MemorySegment segment, long offset) {
        return resolveIpv6(segment.get(BE_LONG, offset), segment.get(BE_LONG, offset + 8));
    }

    /**
     * The identity behind a local id, or null for 0, an id never handed out, or an id retired
     * longer than the retire period ago. Allocation-free.
     */
    public Identity identity(int localId) {
        if (localId <= 0) {
            return null;
        }
        Identity[][] c = snapshot.chunks;
        int chunk = localId >>> CHUNK_BITS;
        if (chunk >= c.length || c[chunk] == null) {
            return null;
        }
        return (Identity) SLOT.getAcquire(c[chunk], localId & (CHUNK - 1));
    }

    /** True once a source has delivered a complete view (informers synced, or an inventory loaded). */
    public boolean complete() {
        return snapshot.complete;
    }

    // =====================================================================================
    // Writer API: thread-safe, asynchronous, applied in submission order
    // =====================================================================================

    /**
     * Sets what {@code owner} (a stable key such as {@code pod:<uid>}) is and which addresses it
     * claims, replacing its previous claims. Addresses are IPv4 or IPv6 literals; invalid ones are
     * logged and skipped. When the identity differs from the owner's previous one it gets a new
     * local id; the old id keeps answering {@link #identity(int)} for the retire period.
     *
     * @param createdMillis creation time (epoch ms) used to pick the newest claimant of an address
     */
    public void upsert(String owner, Identity identity, Collection<String> addresses, long createdMillis) {
        upsert(owner, identity, addresses, new long[0], createdMillis);
    }

    /** As {@link #upsert(String, Identity, Collection, long)}, also claiming network namespace inodes. */
    public void upsert(String owner, Identity identity, Collection<String> addresses, long[] netnsInodes, long createdMillis) {
        List<String> a = List.copyOf(addresses);
        long[] n = netnsInodes.clone();
        submit(() -> applyUpsert(owner, identity, a, n, createdMillis));
    }

    /** Withdraws everything {@code owner} claims; addresses fall to another claimant or become unknown. */
    public void remove(String owner) {
        submit(() -> applyRemove(owner));
    }

    /**
     * Maps a network namespace inode to whatever pod {@code namespace/pod} is (now or when it
     * appears), following its identity versions. Re-registering an inode moves it.
     */
    public void registerNetns(long inode, String namespace, String pod) {
        String ref = namespace + "/" + pod;
        submit(() -> applyNetnsLink(inode, ref));
    }

    /** Forgets a link made by {@link #registerNetns}. */
    public void unregisterNetns(long inode) {
        submit(() -> applyNetnsLink(inode, null));
    }

    /** Maps a network namespace inode (the host's) to the {@code host} identity of {@code node}. */
    public void registerHostNetns(long inode, String node) {
        upsert("host-netns:" + inode, Identity.host(node), List.of(), new long[] {inode}, 0);
    }

    /** Marks the view complete (unknown addresses become {@code world} in {@code resolve*}) or not. */
    public void setComplete(boolean value) {
        submit(() -> {
            if (complete != value) {
                complete = value;
                metaDirty = true;
            }
        });
    }

    /** Completes once every update submitted before this call is visible to readers. */
    public CompletableFuture<Void> flush() {
        CompletableFuture<Void> f = new CompletableFuture<>();
        if (closed) {
            f.completeExceptionally(new IllegalStateException("identity cache closed"));
            return f;
        }
        submit(new FlushTask(f));
        return f;
    }

    /** Runs {@code task} on the writer thread, in order with updates (sources keep their state there). */
    void execute(Runnable task) {
        submit(task);
    }

    /** Closes {@code resource} (a source) when the cache closes, before the writer stops. */
    public void attach(AutoCloseable resource) {
        attached.add(resource);
    }

    /** Queues a task, or runs it at once when called on the writer thread (a source's handler), keeping order. */
    private void submit(Runnable task) {
        if (Thread.currentThread() == writer) {
            task.run();
        } else if (!closed) {
            tasks.add(task);
        }
    }

    // ---- statistics ----

    /** Updates applied by the writer so far. */
    public long updatesApplied() {
        return updatesApplied.get();
    }

    /** Updates that threw (logged, skipped). */
    public long updatesFailed() {
        return updatesFailed.get();
    }

    /** Snapshots published so far. */
    public long snapshotsPublished() {
        return snapshotsPublished.get();
    }

    /** Addresses (IPv4 + IPv6) and netns inodes currently mapped, as readers see them. */
    public int size() {
        Snapshot s = snapshot;
        return s.v4.size() + s.v6.size() + s.netns.size();
    }

    @Override
    public void close() {
        for (AutoCloseable a : attached) {
            try {
                a.close();
            } catch (Exception e) {
                LOG.warn("closing {}: {}", a, e.toString());
            }
        }
        attached.clear();
        closed = true;
        writer.interrupt();
        try {
            writer.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // =====================================================================================
    // Writer thread
    // =====================================================================================

    private void runWriter() {
        while (!closed) {
            Runnable t;
            try {
                t = tasks.poll(1, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                break;
            }
            int n = 0;
            while (t != null) {
                run(t);
                if (++n >= MAX_BATCH) {
                    break;
                }
                t = tasks.poll();
                if (t == null && flushes.isEmpty()) {
                    // under continuous updates, keep applying until the publish interval has passed
                    long wait = lastPublishNanos + MIN_PUBLISH_INTERVAL_NS - System.nanoTime();
                    if (wait > 0) {
                        try {
                            t = tasks.poll(wait, TimeUnit.NANOSECONDS);
                        } catch (InterruptedException e) {
                            break;
                        }
                    }
                }
            }
            releaseRetired();
            publish();
        }
        for (Runnable t; (t = tasks.poll()) != null; ) {
            if (t instanceof FlushTask ft) {
                flushes.add(ft.future);
            }
        }
        for (CompletableFuture<Void> f : flushes) {
            f.completeExceptionally(new IllegalStateException("identity cache closed"));
        }
    }

    /** Registers a future to complete at the next publish. */
    private final class FlushTask implements Runnable {
        final CompletableFuture<Void> future;

        FlushTask(CompletableFuture<Void> future) {
            this.future = future;
        }

        @Override
        public void run() {
            flushes.add(future);
        }
    }

    private void run(Runnable t) {
        try {
            t.run();
            updatesApplied.incrementAndGet();
        } catch (RuntimeException e) {
            updatesFailed.incrementAndGet();
            LOG.warn("identity update failed", e);
        }
    }

    private void publish() {
        if (v4Dirty || v6Dirty || netnsDirty || metaDirty) {
            Snapshot old = snapshot;
            snapshot = new Snapshot(v4Dirty ? v4.publish() : old.v4, v6Dirty ? v6.publish() : old.v6,
                    netnsDirty ? netns.publish() : old.netns, chunks, complete);
            v4Dirty = v6Dirty = netnsDirty = metaDirty = false;
            snapshotsPublished.incrementAndGet();
            lastPublishNanos = System.nanoTime();
        }
        if (!flushes.isEmpty()) {
            for (CompletableFuture<Void> f : flushes) {
                f.complete(null);
            }
            flushes.clear();
        }
    }

    private void releaseRetired() {
        long now = System.nanoTime();
        while (!retired.isEmpty() && now - retired.peekFirst().atNanos >= retireAfterNanos) {
            int id = retired.pollFirst().localId;
            SLOT.setRelease(chunks[id >>> CHUNK_BITS], id & (CHUNK - 1), (Identity) null);
        }
    }

    private int allocate(Identity identity) {
        int id = nextLocalId++;
        int chunk = id >>> CHUNK_BITS;
        if (chunk >= chunks.length) {
            Identity[][] grown = java.util.Arrays.copyOf(chunks, chunks.length * 2);
            chunks = grown;
            metaDirty = true;
        }
        if (chunks[chunk] == null) {
            chunks[chunk] = new Identity[CHUNK];
        }
        SLOT.setRelease(chunks[chunk], id & (CHUNK - 1), identity);
        return id;
    }

    private void retire(int localId) {
        retired.addLast(new Retired(localId, System.nanoTime()));
    }

    private void applyUpsert(String key, Identity identity, List<String> addresses, long[] inodes, long created) {
        Owner o = owners.get(key);
        if (o == null) {
            o = new Owner(key, nextSeq++);
            owners.put(key, o);
        }
        boolean changed = o.created != created;
        o.created = created;
        if (o.identity == null || !o.identity.equals(identity)) {
            if (o.localId != 0) {
                retire(o.localId);
            }
            o.identity = identity;
            o.localId = allocate(identity);
            changed = true;
        }
        String ref = identity.pod() != null ? identity.namespace() + "/" + identity.pod() : null;
        if (!java.util.Objects.equals(ref, o.podRef)) {
            if (o.podRef != null) {
                Set<Owner> s = ownersByPodRef.get(o.podRef);
                s.remove(o);
                if (s.isEmpty()) {
                    ownersByPodRef.remove(o.podRef);
                }
            }
            o.podRef = ref;
            if (ref != null) {
                ownersByPodRef.computeIfAbsent(ref, r -> new LinkedHashSet<>()).add(o);
            }
        }
        Set<Key> declared = new LinkedHashSet<>();
        for (String a : addresses) {
            Key k = Key.parse(a);
            if (k == null) {
                LOG.warn("{}: '{}' is not an IP address, skipped", key, a);
            } else {
                declared.add(k);
            }
        }
        for (long inode : inodes) {
            if (inode != 0) {
                declared.add(new Key(KIND_NETNS, 0, inode));
            }
        }
        o.declared = declared;
        reclaim(o, changed);
    }

    private void applyRemove(String key) {
        Owner o = owners.remove(key);
        if (o == null) {
            return;
        }
        for (Key k : o.keys) {
            List<Owner> l = claims.get(k);
            l.remove(o);
            if (l.isEmpty()) {
                claims.remove(k);
            }
            touch(k);
        }
        o.keys = Set.of();
        if (o.podRef != null) {
            Set<Owner> s = ownersByPodRef.get(o.podRef);
            s.remove(o);
            if (s.isEmpty()) {
                ownersByPodRef.remove(o.podRef);
            }
        }
        retire(o.localId);
    }

    private void applyNetnsLink(long inode, String ref) {
        String old = podRefByNetns.get(inode);
        if (java.util.Objects.equals(old, ref)) {
            return;
        }
        if (old != null) {
            podRefByNetns.remove(inode);
            Set<Long> s = netnsByPodRef.get(old);
            s.remove(inode);
            if (s.isEmpty()) {
                netnsByPodRef.remove(old);
            }
            reclaimPodRef(old);
        }
        if (ref != null) {
            podRefByNetns.put(inode, ref);
            netnsByPodRef.computeIfAbsent(ref, r -> new LinkedHashSet<>()).add(inode);
            reclaimPodRef(ref);
        }
    }

    private void reclaimPodRef(String ref) {
        Set<Owner> s = ownersByPodRef.get(ref);
        if (s != null) {
            for (Owner o : s) {
                reclaim(o, false);
            }
        }
    }

    /** Brings the owner's claims in line with its declared keys plus linked netns inodes. */
    private void reclaim(Owner o, boolean touchAll) {
        Set<Key> effective = new LinkedHashSet<>(o.declared);
        if (o.podRef != null) {
            Set<Long> linked = netnsByPodRef.get(o.podRef);
            if (linked != null) {
                for (long inode : linked) {
                    effective.add(new Key(KIND_NETNS, 0, inode));
                }
            }
        }
        for (Key k : o.keys) {
            if (!effective.contains(k)) {
                List<Owner> l = claims.get(k);
                l.remove(o);
                if (l.isEmpty()) {
                    claims.remove(k);
                }
                touch(k);
            }
        }
        for (Key k : effective) {
            if (!o.keys.contains(k)) {
                claims.computeIfAbsent(k, x -> new ArrayList<>(1)).add(o);
                touch(k);
            } else if (touchAll) {
                touch(k);
            }
        }
        o.keys = effective;
    }

    /** Recomputes the winner of one key and writes it into the writer's table. */
    private void touch(Key k) {
        List<Owner> l = claims.get(k);
        Owner best = null;
        if (l != null) {
            for (Owner o : l) {
                if (best == null || o.created > best.created || (o.created == best.created && o.seq > best.seq)) {
                    best = o;
                }
            }
        }
        AddressIndex t;
        switch (k.kind) {
            case KIND_V4 -> { t = v4; v4Dirty = true; }
            case KIND_V6 -> { t = v6; v6Dirty = true; }
            default -> { t = netns; netnsDirty = true; }
        }
        if (best == null) {
            t.remove(k.hi, k.lo);
        } else {
            t.put(k.hi, k.lo, best.localId);
        }
    }

    /** Something that claims addresses: a pod, a Service, a Node, an inventory entry. */
    private static final class Owner {
        final String key;
        final long seq;
        long created;
        Identity identity;
        int localId;
        String podRef;
        Set<Key> declared = Set.of();
        Set<Key> keys = Set.of();

        Owner(String key, long seq) {
            this.key = key;
            this.seq = seq;
        }
    }

    private record Retired(int localId, long atNanos) {
    }

    private static final java.util.regex.Pattern DOTTED_QUAD =
            java.util.regex.Pattern.compile("((25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)");

    /** A table key: IPv4 (lo = address), IPv6 (hi, lo) or netns (lo = inode). */
    public record Key(int kind, long hi, long lo) {
        /**
         * The key of an IP literal as Kubernetes writes it (dotted quad or IPv6; IPv4-mapped IPv6
         * counts as IPv4), or null when the text is not one.
         */
        public static Key parse(String text) {
            if (text == null || text.isBlank()) {
                return null;
            }
            String t = text.trim();
            if (t.indexOf(':') < 0 && !DOTTED_QUAD.matcher(t).matches()) {
                return null; // no "10.1.1" or "0x0a.1": only the dotted-quad form Kubernetes writes
            }
            InetAddress a;
            try {
                a = InetAddress.ofLiteral(t);
            } catch (IllegalArgumentException e) {
                return null;
            }
            byte[] b = a.getAddress();
            if (a instanceof Inet4Address) {
                return new Key(KIND_V4, 0, ipv4(b) & 0xffffffffL);
            }
            long hi = 0;
            long lo = 0;
            for (int i = 0; i < 8; i++) {
                hi = hi << 8 | (b[i] & 0xff);
                lo = lo << 8 | (b[8 + i] & 0xff);
            }
            if (hi == 0 && (lo & 0xffffffff00000000L) == V4_MAPPED) {
                return new Key(KIND_V4, 0, lo & 0xffffffffL);
            }
            return new Key(KIND_V6, hi, lo);
        }
    }

    static int ipv4(byte[] b) {
        return (b[0] & 0xff) << 24 | (b[1] & 0xff) << 16 | (b[2] & 0xff) << 8 | (b[3] & 0xff);
    }

    /** Host-order int of a dotted IPv4 literal (tests, inventory). */
    static int ipv4(String dotted) {
        Key k = Key.parse(dotted);
        if (k == null || k.kind != KIND_V4) {
            throw new IllegalArgumentException("not an IPv4 address: " + dotted);
        }
        return (int) k.lo;
    }

    /** {hi, lo} of an IPv6 literal (tests). */
    static long[] ipv6(String text) {
        Key k = Key.parse(text);
        if (k == null || k.kind != KIND_V6) {
            throw new IllegalArgumentException("not an IPv6 address: " + text);
        }
        return new long[] {k.hi, k.lo};
    }

    /** The inode of a network namespace file ({@code /var/run/netns/NAME}, {@code /proc/PID/ns/net}), 0 if unreadable. */
    static final class NetnsInode {
        private NetnsInode() {
        }

        static long of(Path path) {
            try {
                return Files.isReadable(path) ? ((Number) Files.getAttribute(path, "unix:ino")).longValue() : 0;
            } catch (Exception e) {
                return 0;
            }
        }
    }
}
